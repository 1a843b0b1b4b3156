#pragma once
/// The node lane: a Kubernetes node that really runs Pods, added to the run's cluster
/// (cluster.hpp).
///
/// Node::start() starts containerd (private config, root, state and socket under its folder),
/// kube-scheduler and a kubelet registered as `node1` against a running cluster, makes the `pause`
/// and `busybox` images on the spot (OCI archives written here: pause from a tiny C program
/// compiled with the system cc, busybox from Debian's busybox-static) and imports them, and returns
/// once node1 is Ready and schedulable.
///
/// One node serves a whole ctest run: the fixture test `kube_node_up` runs `poetryops-test-node up
/// DIR`, a supervisor that owns the node and writes DIR/node.json; tests read it
/// (POETRYOPS_TEST_KUBE_NODE, shared_node()) and `kube_node_down` stops it and undoes what it
/// changed on the host.
///
/// What a node changes outside its folder, recorded in node.json *before* each change so that
/// `down` undoes it even after a crash (HostChanges): the sysctls the kubelet and the CNI bridge
/// plugin write (saved values restored), one `127.0.0.1 node1` line in /etc/hosts (only that line
/// removed), the CNI bridge (deleted), a cgroup subtree /sys/fs/cgroup/*/poetryops-test-node that
/// holds every Pod (its processes killed, the tree removed) and the kubelet's and containerd's
/// hard-coded paths (/var/log/pods, /var/log/containers, /var/lib/kubelet, /run/containerd,
/// /var/lib/cni: removed only if they did not exist before). Everything the kubelet and containerd
/// mount lives under the node's folder and is unmounted before the folder is touched.
///
/// Needs root, cgroup v1, containerd/runc/CNI plugins/busybox-static (scripts/setup.sh) and kubelet
/// + kube-scheduler beside kube-apiserver (scripts/kube-lane.sh); node_skip_reason() names the
/// first check that fails.

#include "support/kube/cluster.hpp"

#include <poetryops/util/result.hpp>
#include <poetryops/util/subprocess.hpp>

#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace poetryops::test::kube {

/// What a node changed on the host outside its folder; each field is set before the change is made.
struct HostChanges {
    std::map<std::string, std::string> sysctls;  ///< name (dotted) → value before the node started
    std::string hosts_line;   ///< the exact line appended to /etc/hosts; empty: none
    std::string bridge;       ///< the CNI bridge, created by the node (did not exist before)
    std::string cgroup_root;  ///< e.g. "poetryops-test-node": /sys/fs/cgroup/<each>/<it>
    std::vector<std::string> created_paths;  ///< hard-coded paths that did not exist before
};

/// A running node (DIR/node.json).
struct NodeInfo {
    std::string node_name = "node1";
    std::filesystem::path dir;  ///< the node's folder: containerd, kubelet, cni, images, logs
    std::filesystem::path containerd_socket;  ///< for `ctr --address SOCK -n k8s.io`
    std::string pause_image;                  ///< localhost/poetryops-test/pause:3.9
    std::string busybox_image;  ///< localhost/poetryops-test/busybox:1.35 (sh, wget, httpd, ...)
    /// its manifest digest: busybox_image's repository@digest runs too
    std::string busybox_digest;
    std::string pod_subnet;  ///< 10.244.0.0/24 on the bridge
    std::string server;      ///< the cluster's API server
    /// the cluster's admin identity (for `down` after a crash)
    std::filesystem::path admin_kubeconfig;
    int kubelet_port = 0;  ///< 127.0.0.1:PORT (the API server reaches it as node1:PORT)
    int scheduler_port = 0;
    bool ready = false;      ///< node1 was Ready and schedulable when start() returned
    bool stopped = false;    ///< stop() finished and undid every change
    int supervisor_pid = 0;  ///< the process owning the node (0: none recorded)
    std::vector<std::pair<std::string, int>> pids;  ///< binary path → pid of every process started
    HostChanges changes;
    /// API paths the node created (Node, ClusterRoleBinding): deleted
    std::vector<std::string> api_objects;
    /// VmHWM of containerd, kubelet, kube-scheduler at stop()
    std::map<std::string, long> peak_rss_kib;
    double start_seconds = 0;  ///< start() until node1 was Ready
};

/// Empty when a node can run here; else one line naming the check that failed (the cluster lane's
/// reason first).
std::string node_skip_reason();

struct NodeOptions {
    std::string node_name = "node1";
    std::string pod_subnet = "10.244.0.0/24";
    std::string bridge = "poetrynode0";
    std::string cgroup_root = "poetryops-test-node";
    /// Where start() records its state (pids, host changes); default DIR/node.json.
    std::filesystem::path state_file{};
    /// Recorded in the state file (the `up` program's supervisor).
    int supervisor_pid = 0;
    /// Progress lines ("containerd up after 0.4 s", "node1 Ready after 14.2 s"); null: silent.
    std::FILE* progress = nullptr;
};

/// A node this process owns; the destructor stops what start() started and undoes its host changes
/// (also after a failed start).
class Node {
public:
    Node() = default;
    Node(const Node&) = delete;
    Node& operator=(const Node&) = delete;
    ~Node() { stop(); }

    /// Starts the node in `dir` (created; a previous node's leftovers there are undone first, then
    /// it is emptied) for the cluster `cluster`, and waits until it is Ready.
    Result<void> start(const std::filesystem::path& dir, const ClusterInfo& cluster,
                       const NodeOptions& options = {});
    /// Deletes the Pods on the node (so the kubelet tears them down), stops the processes, undoes
    /// the host changes.
    void stop();
    const NodeInfo& info() const { return info_; }
    /// Where progress lines go from now on (null: nowhere).
    void set_progress(std::FILE* out) { options_.progress = out; }

private:
    Result<void> save();
    Result<void> start_containerd();
    Result<void> start_kubelet_and_scheduler(const ClusterInfo& cluster);
    Result<void> wait_ready(const ClusterInfo& cluster);

    NodeInfo info_;
    NodeOptions options_;
    std::filesystem::path state_file_;
    std::vector<std::pair<std::string, ChildProcess>> procs_;  // start order; stopped in reverse
    bool started_ = false;
    int lock_fd_ = -1;  // the machine-wide lock: one node lane at a time (abstract socket, gone
                        // with the process)
};

/// Undoes what `info` records (after a crash too): kills its recorded processes (only while they
/// still run the recorded binary), containerd shims of its socket and every process in its cgroup
/// subtree, unmounts everything under its folder, deletes its bridge, restores sysctls, removes its
/// /etc/hosts line, its cgroups and the paths it created, deletes the Node object if the API server
/// answers. Clears what it undid from `info` (so calling it again is harmless).
struct UndoReport {
    std::vector<std::string> done;      ///< one line per action taken
    std::vector<std::string> problems;  ///< what could not be undone (host state left behind)
};
UndoReport undo_node(NodeInfo& info);

Result<void> write_node_info(const NodeInfo& info, const std::filesystem::path& file);
Result<NodeInfo> read_node_info(const std::filesystem::path& file);

/// The node for this test process: the one named by POETRYOPS_TEST_KUBE_NODE when that file names a
/// running node (ctest's fixture), else one started for this process (on shared_cluster()) and
/// stopped at exit. Fails with reason "Skip" and node_skip_reason() when no node can run here (and
/// the lane is not required).
Result<const NodeInfo*> shared_node();

// ---- images ----

/// One entry of an image layer.
struct ImageEntry {
    enum class Type { file, dir, symlink };
    std::string path;  ///< relative, e.g. "bin/sh"
    Type type = Type::file;
    std::string content;  ///< file bytes, or the symlink's target
    unsigned mode = 0644;
};

struct ImageSpec {
    std::string repository{};                       ///< e.g. localhost/poetryops-test/app
    std::string tag{};                              ///< e.g. v1
    std::vector<std::vector<ImageEntry>> layers{};  ///< bottom first
    std::vector<std::string> entrypoint{};
    std::vector<std::string> cmd{};
    std::vector<std::string> env = {"PATH=/bin"};
};

struct BuiltImage {
    std::string repository, tag;
    std::string digest;         ///< sha256:… of the manifest (what `repository@digest` names)
    std::string config_digest;  ///< sha256:… of the config (the image id)
    std::string by_tag() const { return repository + ":" + tag; }
    std::string by_digest() const { return repository + "@" + digest; }
};

/// The files of a busybox root: /bin/busybox (from /bin/busybox of busybox-static), a symlink per
/// applet, /etc/passwd, /etc/group, /tmp.
Result<std::vector<ImageEntry>> busybox_layer();

/// Writes an OCI image-layout archive holding `images` (uncompressed layers) to `archive`. Each
/// image is named both `repository:tag` and `repository@digest` (annotation
/// io.containerd.image.name), so a Pod can pin it by digest.
Result<std::vector<BuiltImage>> write_image_archive(const std::vector<ImageSpec>& images,
                                                    const std::filesystem::path& archive);

/// Imports an archive into the node's containerd (namespace k8s.io, where the kubelet's images
/// live).
Result<void> import_images(const NodeInfo& node, const std::filesystem::path& archive);

}  // namespace poetryops::test::kube
