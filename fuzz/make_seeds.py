#!/usr/bin/env python3
"""Writes fuzz/corpus/NAME/ seed files from tests' testdata and examples/ (run from the repository
root; re-running rewrites the generated seeds and leaves crash reproducers, named crash-*, alone)."""
import base64, glob, json, os, struct

D = "sha256:" + "ab" * 32
root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.chdir(root)

def put(name, seed, data):
    d = f"fuzz/corpus/{name}"
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(f"{d}/{seed}", "wb") as f:
        f.write(data)

def read(p):
    with open(p, "rb") as f:
        return f.read()

# manifest_edit: FuzzedDataProvider — ARG "\\" "x" then the YAML; the last byte is the op, the one
# before it the kind (set_image: auto kustomize helm yaml marker; weights: gateway istio nginx smi traefik).
def edit(arg, yaml, kind, op):
    return arg.encode() + b"\\x" + yaml + bytes([kind, op])
for p in sorted(glob.glob("examples/*/kustomization.yaml") + glob.glob("examples/*/deployment.yaml")):
    put("manifest_edit", "set_image-" + p.replace("/", "_"), edit("registry.example.com/acme/billing:1.4.3", read(p), 0, 0))
for i, kind in enumerate(["gateway-api", "istio", "nginx", "smi", "traefik"]):
    p = f"tests/manifest/golden/weights/{kind}.yaml"
    put("manifest_edit", f"set_weights-{kind}", edit("", read(p), i, 2))
    put("manifest_edit", f"read_weights-{kind}", edit("", read(p), i, 3))
put("manifest_edit", "set_values-helm", edit("image.tag", b"image:\n  repository: registry.example.com/acme/billing\n  tag: \"1.4.2\" # pinned\n", 2, 1))
put("manifest_edit", "marker", edit("registry.example.com/acme/billing:1.4.3", b"image: registry.example.com/acme/billing:1.4.2 # poetryops: billing:prod\n", 4, 0))
put("manifest_edit", "anchors-crlf", edit("registry.example.com/acme/billing:2", b"\xef\xbb\xbfa: &x registry.example.com/acme/billing:1\r\nb: *x\r\n---\r\nspec: {template: {spec: {containers: [{name: c, image: registry.example.com/acme/billing:1}]}}}\r\n", 3, 0))

for p in sorted(glob.glob("tests/dockerfile/testdata/*/Dockerfile")):
    put("dockerfile", p.split("/")[-2], read(p))
for p in sorted(glob.glob("images/*/Dockerfile") + glob.glob("examples/*/Dockerfile")):
    put("dockerfile", p.replace("/", "_"), read(p))

for p in sorted(glob.glob("tests/python/testdata/locks/*/pyproject.toml")) + ["examples/hello/pyproject.toml"]:
    d = os.path.dirname(p)
    lock = os.path.join(d, "poetry.lock")
    put("python_project", d.replace("/", "_"), read(p) + (b"\0" + read(lock) if os.path.exists(lock) else b""))

for i, (a, b) in enumerate([("1.0", "1.0.0"), ("v1.0-alpha.1", "1.0a1"), ("1!2.0.post3.dev4+local.7", "2.0"),
                             ("1.4.2rc1", "1.4.2"), ("0.0.1.dev0", "0.0.1-post1"), ("2.0+ubuntu-1", "2.0+ubuntu.2")]):
    put("pep440", f"pair{i}", f"{a}\n{b}")

for i, r in enumerate(["registry.example.com/acme/billing:1.4.2", "docker.io/library/python:3.12-slim@" + D,
                       "127.0.0.1:5000/demo/app@" + D, "localhost/app", "[::1]:5000/a/b:c", "ubuntu",
                       "ghcr.io/acme/billing__x/y-z.w:v1.0_1", "sha256:" + "0" * 128]):
    put("oci_reference", f"ref{i}", r)

def event(action, media="application/vnd.oci.image.manifest.v1+json"):
    return json.dumps({"events": [{"id": "1", "timestamp": "2026-01-01T00:00:00Z", "action": action,
        "target": {"mediaType": media, "size": 528, "digest": D, "length": 528, "repository": "demo/app",
                   "url": "http://127.0.0.1:5000/v2/demo/app/manifests/" + D, "tag": "1.0.0"},
        "request": {"id": "r", "addr": "127.0.0.1:1", "host": "127.0.0.1:5000", "method": "PUT"}}]})
hooks = {
    "distribution": (1, event("push")),
    "distribution-pull": (0, event("pull")),
    "docker_hub": (2, json.dumps({"callback_url": "https://x", "push_data": {"pushed_at": 1, "pusher": "u", "tag": "1.2.0"},
                                  "repository": {"repo_name": "acme/billing", "namespace": "acme", "name": "billing"}})),
    "github": (3, json.dumps({"action": "published", "registry_package": {"name": "Billing", "package_type": "CONTAINER",
        "owner": {"login": "Acme"}, "package_version": {"version": D, "container_metadata": {"tag": {"name": "1.0", "digest": D}},
        "package_url": "ghcr.io/acme/billing:1.0"}}})),
    "harbor": (4, json.dumps({"type": "PUSH_ARTIFACT", "occur_at": 1, "operator": "admin", "event_data": {"resources": [
        {"digest": D, "tag": "2.0.0", "resource_url": "harbor.example.com/library/app:2.0.0"}],
        "repository": {"name": "app", "namespace": "library", "repo_full_name": "library/app"}}})),
    "quay": (5, json.dumps({"repository": "ns/repo", "namespace": "ns", "name": "repo", "docker_url": "quay.io/ns/repo",
                            "updated_tags": ["a", "b"]})),
    "cloudevents": (6, json.dumps({"specversion": "1.0", "type": "io.poetryops.image.pushed", "source": "ci", "id": "1",
                                   "data": {"image": "registry.example.com/acme/app:1.0@" + D}})),
    "cloudevents-batch": (0, json.dumps([{"specversion": "1.0", "type": "io.poetryops.image.pushed", "id": "1", "source": "s",
        "data": {"registry": "r.io", "repository": "a/b", "tag": "x"}}, {"specversion": "1.0", "type": "other", "id": "2", "source": "s"}])),
}
for name, (fmt, body) in hooks.items():
    put("registry_webhook", name, bytes([fmt]) + body.encode())

# git_webhook: first byte % 4 = github gitlab gitea forgejo; bit 0x10 = ping / tag push hook.
for p in sorted(glob.glob("tests/git/testdata/webhooks/*.json")):
    n = os.path.basename(p)
    sel = 0 if n.startswith("github") else 1 if n.startswith("gitlab") else 2
    if "ping" in n or "tag-push" in n:
        sel |= 0x10
    put("git_webhook", n, bytes([sel]) + read(p))
    if n.startswith("gitea"):
        put("git_webhook", "forgejo-" + n, bytes([3]) + read(p))

watch = "\n".join([
    json.dumps({"type": "ADDED", "object": {"kind": "PoetryApp", "metadata": {"name": "a", "resourceVersion": "10"}, "spec": {"x": "caf\u00e9 {\"}"}}}),
    json.dumps({"type": "MODIFIED", "object": {"metadata": {"name": "a", "resourceVersion": "11"}, "note": "line\nbreak escaped"}}),
    json.dumps({"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "12"}}}),
    json.dumps({"type": "DELETED", "object": {"metadata": {"name": "a", "resourceVersion": "13"}}}),
    json.dumps({"type": "ERROR", "object": {"kind": "Status", "code": 410, "reason": "Expired", "message": "too old"}}),
]) + "\n"
put("watch_event", "stream-chunk7", b"\x06" + watch.encode())
put("watch_event", "stream-chunk64", b"\x3f" + watch.encode())
put("watch_event", "truncated", b"\x02" + watch.encode()[:-20])

# compact_json: MessagePack as nlohmann writes it (hand-encoded: fixmap, str8, uint, float, bin, ext).
def mp_str(s):
    b = s.encode()
    return (bytes([0xa0 | len(b)]) if len(b) < 32 else bytes([0xd9, len(b)])) + b
obj = bytes([0x84]) + mp_str("kind") + mp_str("PoetryApp") + mp_str("metadata") + bytes([0x82]) + mp_str("name") + mp_str("billing") \
    + mp_str("resourceVersion") + mp_str("123456") + mp_str("spec") + bytes([0x83]) + mp_str("replicas") + bytes([0xcd, 0x01, 0x00]) \
    + mp_str("ratio") + bytes([0xcb]) + struct.pack(">d", 0.25) + mp_str("tags") + bytes([0x93, 0xc0, 0xc3, 0xff]) \
    + mp_str("status") + bytes([0x81]) + mp_str("note") + bytes([0xd9, 40]) + b"x" * 40
put("compact_json", "object", obj)
put("compact_json", "bin-ext", bytes([0x82]) + mp_str("b") + bytes([0xc4, 3]) + b"abc" + mp_str("e") + bytes([0xd4, 1, 7]))
put("compact_json", "ints", bytes([0x96, 0xd0, 0x80, 0xd1, 0x80, 0, 0xd2, 0, 0, 0, 1, 0xd3] + [0xff] * 8 + [0xcf] + [0x7f] + [0xff] * 7 + [0xca, 0x3f, 0x80, 0, 0]))

def pkt(s):
    b = s.encode() if isinstance(s, str) else s
    return f"{len(b) + 4:04x}".encode() + b
def band(n, s):
    return pkt(bytes([n]) + (s.encode() if isinstance(s, str) else s))
status = pkt("unpack ok\n") + pkt("ok refs/heads/main\n") + b"0000"
put("pkt_line", "report-ok", band(1, status[:7]) + band(1, status[7:]) + b"0000")
status = pkt("unpack ok\n") + pkt("ng refs/heads/main pre-receive hook declined\n") + b"0000"
put("pkt_line", "report-ng", band(2, "policy: images must be signed\n") + band(1, status) + b"0000")
put("pkt_line", "fatal", band(3, "fatal: out of space\n") + b"0000")
put("pkt_line", "ls-refs", b"0006a\n00000001000ahello\n0002" + pkt("a" * 40 + " refs/heads/main\n") + b"0000")

put("kubeconfig", "dev", """apiVersion: v1
kind: Config
current-context: dev
clusters:
- name: local
  cluster:
    server: https://127.0.0.1:6443
    certificate-authority-data: """ + base64.b64encode(b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n").decode() + """
    tls-server-name: kubernetes
contexts:
- name: dev
  context: {cluster: local, user: admin, namespace: apps}
- name: other
  context: {cluster: local, user: tok}
users:
- name: admin
  user:
    client-certificate-data: """ + base64.b64encode(b"cert").decode() + """
    client-key-data: """ + base64.b64encode(b"key").decode() + """
- name: tok
  user: {token: abc.def, username: u, password: p}
""")
put("kubeconfig", "files", "apiVersion: v1\nclusters:\n- name: c\n  cluster: {server: 'http://127.0.0.1:8080', certificate-authority: ca.pem, insecure-skip-tls-verify: true}\ncontexts:\n- name: dev\n  context: {cluster: c, user: u}\ncurrent-context: dev\nusers:\n- name: u\n  user: {tokenFile: token, client-key: k.pem}\n")
put("kubeconfig", "exec", "apiVersion: v1\ncontexts:\n- name: x\n  context: {cluster: nope}\ncurrent-context: x\nusers:\n- name: e\n  user: {exec: {command: aws}}\n")

b64 = lambda s: base64.b64encode(s.encode()).decode()
put("dockerconfig", "auths", json.dumps({"auths": {"https://index.docker.io/v1/": {"auth": b64("hubuser:hub:pass")},
                                                   "127.0.0.1:5000": {"username": "u", "password": "p"}}}))
put("dockerconfig", "legacy", json.dumps({"registry.example.com": {"auth": b64("a:b"), "email": "x"}}))
put("dockerconfig", "helpers", json.dumps({"auths": {"ghcr.io": {}}, "credsStore": "desktop", "credHelpers": {"gcr.io": "gcloud"}}))

def review(op="CREATE", spec=None, user=None, resource="poetryapprovals"):
    spec = spec if spec is not None else {"app": "billing", "environment": "prod", "digest": D}
    return json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                       "request": {"uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
                                   "resource": {"group": "poetryops.io", "version": "v1alpha1", "resource": resource},
                                   "operation": op, "namespace": "team-a",
                                   "userInfo": user if user is not None else {"username": "alice", "groups": ["sre", "system:authenticated"]},
                                   "object": {"apiVersion": "poetryops.io/v1alpha1", "kind": "PoetryApproval", "spec": spec},
                                   "oldObject": None}})
put("approval_admission", "create", review())
put("approval_admission", "forged", review(spec={"app": "a", "environment": "e", "digest": D, "approver": "ceo", "groups": ["system:masters"]}))
put("approval_admission", "update", review(op="UPDATE"))
put("approval_admission", "other-resource", review(resource="configmaps", user={}))
