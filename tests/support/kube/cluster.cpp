#include "support/kube/cluster.hpp"

#include "support/kube/harness.hpp"
#include "support/support.hpp"

#include <poetryops/kube/client.hpp>
#include <poetryops/kube/resource.hpp>
#include <poetryops/kube/status.hpp>
#include <poetryops/util/fs.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>

namespace poetryops::test::kube {
namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

using harness::env_or;
using harness::openssl;
using harness::tail_of;
using test::free_port;

fs::path bin_dir() { return env_or("POETRYOPS_TEST_K8S_BIN", POETRYOPS_DEFAULT_K8S_BIN); }

/// etcd: POETRYOPS_TEST_ETCD, else the first `etcd` on PATH.
std::string etcd_path() {
    std::string e = env_or("POETRYOPS_TEST_ETCD");
    if (!e.empty()) return e;
    std::string path = env_or("PATH", "/usr/local/bin:/usr/bin:/bin");
    std::size_t start = 0;
    while (start <= path.size()) {
        auto colon = path.find(':', start);
        std::string d =
            path.substr(start, colon == std::string::npos ? std::string::npos : colon - start);
        if (!d.empty() && ::access((d + "/etcd").c_str(), X_OK) == 0) return d + "/etcd";
        if (colon == std::string::npos) break;
        start = colon + 1;
    }
    return {};
}

double seconds_since(Clock::time_point t0) {
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

void progress(const ClusterOptions& o, const std::string& line) {
    if (o.progress == nullptr) return;
    std::fprintf(o.progress, "kube lane: %s\n", line.c_str());
    std::fflush(o.progress);
}

/// CA, serving certificate, admin / controller-manager client certificates, service-account keys, a
/// static token for the unprivileged user. Everything for 127.0.0.1/localhost only, valid for 3
/// days.
Result<std::string> make_pki(const fs::path& pki) {
    std::error_code ec;
    fs::create_directories(pki, ec);
    POETRYOPS_TRY_VOID(
        openssl({"req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3", "-keyout", "ca.key",
                 "-out", "ca.crt", "-subj", "/CN=poetryops-test-cluster-ca", "-addext",
                 "basicConstraints=critical,CA:TRUE", "-addext",
                 "keyUsage=critical,keyCertSign,cRLSign,digitalSignature"},
                pki));
    auto sign = [&](const std::string& name, const std::string& subject,
                    const std::string& ext) -> Result<void> {
        POETRYOPS_TRY_VOID(write_file_atomic(pki / (name + ".ext"), ext));
        POETRYOPS_TRY_VOID(openssl({"req", "-newkey", "rsa:2048", "-nodes", "-keyout",
                                    name + ".key", "-out", name + ".csr", "-subj", subject},
                                   pki));
        return openssl({"x509", "-req", "-in", name + ".csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                        "-CAcreateserial", "-days", "3", "-sha256", "-extfile", name + ".ext",
                        "-out", name + ".crt"},
                       pki);
    };
    const std::string client =
        "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=clientAuth\n";
    POETRYOPS_TRY_VOID(
        sign("apiserver", "/CN=kube-apiserver",
             "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
             "extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,IP:10.0.0.1,DNS:localhost,"
             "DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc\n"));
    POETRYOPS_TRY_VOID(sign("admin", "/O=system:masters/CN=poetryops-test-admin", client));
    POETRYOPS_TRY_VOID(sign("kcm", "/CN=system:kube-controller-manager", client));
    POETRYOPS_TRY_VOID(openssl({"genrsa", "-out", "sa.key", "2048"}, pki));
    POETRYOPS_TRY_VOID(openssl({"rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub"}, pki));
    POETRYOPS_TRY(auto rand, run_process({"openssl", "rand", "-hex", "16"}));
    std::string token = rand.out.substr(0, rand.out.find('\n'));
    if (token.size() != 32) return fail(Error::Kind::internal, "openssl rand gave no token");
    // token,user,uid: no groups, so only system:authenticated applies.
    POETRYOPS_TRY_VOID(write_file_atomic(
        pki / "tokens.csv", token + ",poetryops-test-user,poetryops-test-user\n", 0600));
    return token;
}

std::string kubeconfig_yaml(const std::string& server, const fs::path& ca,
                            const std::string& user_yaml, const std::string& ns = "default") {
    return "apiVersion: v1\nkind: Config\ncurrent-context: test\nclusters:\n- name: test\n  "
           "cluster:\n    server: " +
           server + "\n    certificate-authority: " + ca.string() +
           "\nusers:\n- name: test\n  user:\n" + user_yaml +
           "contexts:\n- name: test\n  context:\n    cluster: test\n    user: test\n    "
           "namespace: " +
           ns + "\n";
}

Result<std::unique_ptr<poetryops::kube::RestClient>> client_for(const ClusterInfo& info) {
    POETRYOPS_TRY(auto cfg, info.admin());
    return poetryops::kube::RestClient::create(cfg, {.request_timeout = std::chrono::seconds(5),
                                                     .connect_timeout = std::chrono::seconds(2)});
}

}  // namespace

Result<poetryops::kube::KubeConfig> ClusterInfo::admin() const {
    return poetryops::kube::load_kubeconfig(admin_kubeconfig);
}
Result<poetryops::kube::KubeConfig> ClusterInfo::user() const {
    return poetryops::kube::load_kubeconfig(user_kubeconfig);
}

bool lane_required() { return env_or("POETRYOPS_REQUIRE_KUBE_LANE") == "1"; }

std::string lane_skip_reason() {
    const std::string how =
        "set POETRYOPS_K8S_BIN_DIR to a folder of kube-apiserver and kube-controller-manager "
        "(v1.28, plain or .xz) and run scripts/test.sh, which installs etcd and unpacks them";
    fs::path bin = bin_dir();
    std::error_code ec;
    if (bin.empty() || !fs::exists(bin / "kube-apiserver", ec)) {
        // The legacy switch of the first envtest lane still works.
        std::string api = env_or("POETRYOPS_TEST_KUBE_APISERVER");
        if (api.empty() || !fs::exists(api, ec)) {
            return "real Kubernetes lane skipped: no kube-apiserver" +
                   (bin.empty() ? std::string() : " in " + bin.string()) + "; " + how;
        }
    }
    if (etcd_path().empty())
        return "real Kubernetes lane skipped: no etcd on PATH (apt-get install etcd-server); " +
               how;
    return {};
}

Result<void> Cluster::start(const fs::path& dir, const ClusterOptions& options) {
    auto t0 = Clock::now();
    std::error_code ec;
    fs::remove_all(dir, ec);
    fs::create_directories(dir, ec);
    if (ec)
        return fail(Error::Kind::internal, "cannot create " + dir.string() + ": " + ec.message());
    info_ = ClusterInfo{};
    info_.dir = fs::absolute(dir);
    const fs::path pki = info_.dir / "pki";
    std::string apiserver =
        bin_dir().empty() ? std::string() : (bin_dir() / "kube-apiserver").string();
    if (apiserver.empty() || !fs::exists(apiserver, ec))
        apiserver = env_or("POETRYOPS_TEST_KUBE_APISERVER");
    const std::string etcd = etcd_path();

    POETRYOPS_TRY(std::string token, make_pki(pki));
    progress(options, "PKI made in " + std::to_string(seconds_since(t0)).substr(0, 4) + " s");

    const int etcd_client = free_port(), etcd_peer = free_port();
    const std::string etcd_url = "http://127.0.0.1:" + std::to_string(etcd_client);
    const std::string peer_url = "http://127.0.0.1:" + std::to_string(etcd_peer);
    POETRYOPS_TRY_VOID(spawn(
        "etcd",
        {etcd, "--name", "poetryops-test", "--data-dir", (info_.dir / "etcd").string(),
         "--listen-client-urls", etcd_url, "--advertise-client-urls", etcd_url,
         "--listen-peer-urls", peer_url, "--initial-advertise-peer-urls", peer_url,
         "--initial-cluster", "poetryops-test=" + peer_url, "--initial-cluster-state", "new"}));

    const int port = free_port();
    info_.server = "https://127.0.0.1:" + std::to_string(port);
    info_.ca_cert = pki / "ca.crt";
    info_.sa_signing_key = pki / "sa.key";
    POETRYOPS_TRY_VOID(
        spawn("kube-apiserver",
              {apiserver, "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
               "--secure-port=" + std::to_string(port), "--etcd-servers=" + etcd_url,
               "--tls-cert-file=" + (pki / "apiserver.crt").string(),
               "--tls-private-key-file=" + (pki / "apiserver.key").string(),
               "--client-ca-file=" + (pki / "ca.crt").string(),
               "--token-auth-file=" + (pki / "tokens.csv").string(), "--authorization-mode=RBAC",
               "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
               "--service-account-key-file=" + (pki / "sa.pub").string(),
               "--service-account-signing-key-file=" + (pki / "sa.key").string(),
               "--service-cluster-ip-range=10.0.0.0/24", "--endpoint-reconciler-type=none",
               "--allow-privileged=true", "--profiling=false", "--v=1"}));

    info_.admin_kubeconfig = info_.dir / "admin.kubeconfig";
    info_.user_kubeconfig = info_.dir / "user.kubeconfig";
    info_.user_name = "poetryops-test-user";
    POETRYOPS_TRY_VOID(write_file_atomic(
        info_.admin_kubeconfig,
        kubeconfig_yaml(info_.server, info_.ca_cert,
                        "    client-certificate: " + (pki / "admin.crt").string() +
                            "\n    client-key: " + (pki / "admin.key").string() + "\n"),
        0600));
    POETRYOPS_TRY_VOID(write_file_atomic(
        info_.user_kubeconfig,
        kubeconfig_yaml(info_.server, info_.ca_cert, "    token: " + token + "\n"), 0600));
    POETRYOPS_TRY_VOID(write_file_atomic(
        info_.dir / "kcm.kubeconfig",
        kubeconfig_yaml(info_.server, info_.ca_cert,
                        "    client-certificate: " + (pki / "kcm.crt").string() +
                            "\n    client-key: " + (pki / "kcm.key").string() + "\n"),
        0600));

    POETRYOPS_TRY(auto client, client_for(info_));
    auto deadline = Clock::now() + std::chrono::seconds(120);
    for (;;) {
        auto r = client->raw("GET", "/readyz");
        if (r && *r == "ok") break;
        for (auto& p : procs_) {
            if (!p.process.running()) {
                return fail(Error::Kind::internal, p.name + " exited during start; its log " +
                                                       p.log.string() + " ends:\n" +
                                                       tail_of(p.log));
            }
        }
        if (Clock::now() > deadline) {
            return fail(Error::Kind::timeout, "kube-apiserver not ready in 120 s; its log ends:\n" +
                                                  tail_of(info_.dir / "kube-apiserver.log"));
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    progress(options, "kube-apiserver " + info_.server + " ready after " +
                          std::to_string(seconds_since(t0)).substr(0, 4) + " s");
    if (options.controller_manager) POETRYOPS_TRY_VOID(start_controller_manager(options));
    progress(options, "cluster ready in " + std::to_string(seconds_since(t0)).substr(0, 4) +
                          " s (" + info_.dir.string() + ")");
    for (auto& p : procs_) info_.pids.push_back(p.process.pid());
    return ok();
}

Result<void> Cluster::start_controller_manager(const ClusterOptions& options) {
    auto t0 = Clock::now();
    const fs::path pki = info_.dir / "pki";
    const int port = free_port();
    std::string kcm = (bin_dir() / "kube-controller-manager").string();
    std::error_code ec;
    if (!fs::exists(kcm, ec)) {
        return fail(Error::Kind::not_found,
                    "kube-controller-manager is not in " + bin_dir().string());
    }
    POETRYOPS_TRY_VOID(spawn(
        "kube-controller-manager",
        {kcm, "--kubeconfig=" + (info_.dir / "kcm.kubeconfig").string(), "--bind-address=127.0.0.1",
         "--secure-port=" + std::to_string(port), "--leader-elect=false",
         "--use-service-account-credentials=true",
         "--service-account-private-key-file=" + (pki / "sa.key").string(),
         "--root-ca-file=" + (pki / "ca.crt").string(),
         "--cluster-signing-cert-file=" + (pki / "ca.crt").string(),
         "--cluster-signing-key-file=" + (pki / "ca.key").string(), "--cluster-name=poetryops-test",
         "--service-cluster-ip-range=10.0.0.0/24", "--profiling=false", "--v=1"}));
    // Ready for the tests when it has created the default ServiceAccount (its controllers run).
    POETRYOPS_TRY(auto client, client_for(info_));
    auto deadline = Clock::now() + std::chrono::seconds(90);
    for (;;) {
        if (client->raw("GET", "/api/v1/namespaces/default/serviceaccounts/default")) break;
        if (!procs_.back().process.running()) {
            return fail(Error::Kind::internal,
                        "kube-controller-manager exited during start; its log ends:\n" +
                            tail_of(info_.dir / "kube-controller-manager.log"));
        }
        if (Clock::now() > deadline) {
            return fail(Error::Kind::timeout,
                        "kube-controller-manager did not create the default ServiceAccount "
                        "in 90 s; its log ends:\n" +
                            tail_of(info_.dir / "kube-controller-manager.log"));
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    info_.controller_manager = true;
    progress(options, "kube-controller-manager running after " +
                          std::to_string(seconds_since(t0)).substr(0, 4) + " s more");
    return ok();
}

void Cluster::stop() {
    while (!procs_.empty()) {
        procs_.back().process.stop(std::chrono::seconds(10));
        procs_.pop_back();
    }
}

Result<void> Cluster::spawn(const std::string& name, std::vector<std::string> argv) {
    fs::path log = info_.dir / (name + ".log");
    POETRYOPS_TRY(auto proc, ChildProcess::spawn(argv, {}, log.string()));
    procs_.push_back(Server{name, std::move(argv), std::move(log), std::move(proc)});
    return ok();
}

Result<void> Cluster::kill_server(const std::string& name) {
    for (auto& p : procs_) {
        if (p.name != name) continue;
        p.process.stop(std::chrono::milliseconds(0));  // SIGTERM then, with no grace, SIGKILL
        return ok();
    }
    return fail(Error::Kind::not_found, "no server " + name + " in this cluster");
}

Result<void> Cluster::restart_server(const std::string& name) {
    for (auto& p : procs_) {
        if (p.name != name) continue;
        if (p.process.running()) p.process.stop(std::chrono::seconds(10));
        POETRYOPS_TRY(p.process, ChildProcess::spawn(p.argv, {}, p.log.string()));
        return ok();
    }
    return fail(Error::Kind::not_found, "no server " + name + " in this cluster");
}

Result<void> write_info(const ClusterInfo& info, const fs::path& file) {
    json j = {{"server", info.server},
              {"dir", info.dir.string()},
              {"caCert", info.ca_cert.string()},
              {"adminKubeconfig", info.admin_kubeconfig.string()},
              {"userKubeconfig", info.user_kubeconfig.string()},
              {"userName", info.user_name},
              {"saSigningKey", info.sa_signing_key.string()},
              {"controllerManager", info.controller_manager},
              {"supervisorPid", info.supervisor_pid},
              {"pids", info.pids}};
    return write_file_atomic(file, j.dump(2) + "\n");
}

Result<ClusterInfo> read_info(const fs::path& file) {
    POETRYOPS_TRY(auto text, read_file(file));
    json j = json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object())
        return fail(Error::Kind::decode, file.string() + ": not a cluster file");
    ClusterInfo i;
    i.server = j.value("server", "");
    i.dir = j.value("dir", "");
    i.ca_cert = j.value("caCert", "");
    i.admin_kubeconfig = j.value("adminKubeconfig", "");
    i.user_kubeconfig = j.value("userKubeconfig", "");
    i.user_name = j.value("userName", "");
    i.sa_signing_key = j.value("saSigningKey", "");
    i.controller_manager = j.value("controllerManager", false);
    i.supervisor_pid = j.value("supervisorPid", 0);
    if (j.contains("pids")) i.pids = j["pids"].get<std::vector<int>>();
    if (i.server.empty()) return fail(Error::Kind::decode, file.string() + ": no server");
    return i;
}

std::string create_namespace(poetryops::kube::RestClient& admin, const std::string& prefix) {
    static std::atomic<int> seq{0};
    auto now = std::chrono::steady_clock::now().time_since_epoch();
    std::string name =
        prefix + std::to_string(::getpid()) + "-" +
        std::to_string(std::chrono::duration_cast<std::chrono::microseconds>(now).count() %
                       1000000007) +
        "-" + std::to_string(++seq);
    nlohmann::json ns = {
        {"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", name}}}};
    auto r = admin.create(poetryops::kube::resources::namespaces(), ns);
    EXPECT_TRUE(r || poetryops::kube::is_already_exists(r.error())) << (r ? "" : r.error().message);
    return name;
}

Result<std::string> request_token(poetryops::kube::RestClient& admin, const std::string& ns,
                                  const std::string& sa, int expiration_seconds) {
    poetryops::kube::ResourceRef sas{"", "v1", "serviceaccounts"};
    json req = {{"apiVersion", "authentication.k8s.io/v1"},
                {"kind", "TokenRequest"},
                {"spec", {{"expirationSeconds", expiration_seconds}}}};
    POETRYOPS_TRY(auto body, admin.raw("POST", sas.in(ns).named(sa).sub("token").path(), req.dump(),
                                       "application/json"));
    json r = json::parse(body, nullptr, false);
    std::string token =
        r.is_object() ? r.value("/status/token"_json_pointer, std::string()) : std::string();
    if (token.empty())
        return fail(Error::Kind::decode,
                    "TokenRequest for " + ns + "/" + sa + " returned no token");
    return token;
}

poetryops::kube::KubeConfig config_with_token(const ClusterInfo& info, const std::string& token,
                                              const std::string& token_file) {
    poetryops::kube::KubeConfig c;
    c.server = info.server;
    c.ca_pem = read_file(info.ca_cert).value_or(std::string());
    c.token = token_file.empty() ? token : std::string();
    c.token_file = token_file;
    c.context = "test";
    c.source = "test";
    return c;
}

Result<void> write_token_kubeconfig(const ClusterInfo& info, const std::string& token,
                                    const std::string& ns, const fs::path& file) {
    return write_file_atomic(
        file, kubeconfig_yaml(info.server, info.ca_cert, "    token: " + token + "\n", ns), 0600);
}

Result<const ClusterInfo*> shared_cluster() {
    static std::mutex mu;
    static std::unique_ptr<ClusterInfo> info;
    struct Owned {  // destroyed at exit: stops what it started and removes its folder
        Cluster cluster;
        fs::path dir;
        ~Owned() {
            cluster.stop();
            std::error_code ec;
            fs::remove_all(dir, ec);
        }
    };
    static std::unique_ptr<Owned> own;
    std::lock_guard lock(mu);
    if (info) return info.get();
    std::string file = env_or("POETRYOPS_TEST_KUBE_CLUSTER", POETRYOPS_DEFAULT_KUBE_CLUSTER);
    std::error_code ec;
    if (fs::exists(file, ec)) {
        POETRYOPS_TRY(auto i, read_info(file));
        // A file left by a supervisor that no longer runs (killed hard) names a dead server: ignore
        // it.
        if (i.supervisor_pid > 0 && (::kill(i.supervisor_pid, 0) == 0 || errno == EPERM)) {
            info = std::make_unique<ClusterInfo>(std::move(i));
            return info.get();
        }
    }
    std::string why = lane_skip_reason();
    if (!why.empty()) {
        if (lane_required())
            return fail(Error::Kind::not_found, why + " (POETRYOPS_REQUIRE_KUBE_LANE=1: failing)");
        return fail(Error::make(Error::Kind::not_found, why, "Skip"));
    }
    // Outside ctest (or with its fixture excluded): a cluster for this process alone.
    std::fprintf(stderr,
                 "kube lane: no running cluster at %s; starting one for this test process\n",
                 file.c_str());
    own = std::make_unique<Owned>();
    own->dir = fs::temp_directory_path() / ("poetryops-kube-" + std::to_string(::getpid()));
    auto started = own->cluster.start(own->dir, {.controller_manager = true, .progress = stderr});
    if (!started) {
        own.reset();
        return fail(std::move(started).error());
    }
    info = std::make_unique<ClusterInfo>(own->cluster.info());
    return info.get();
}

}  // namespace poetryops::test::kube
