#include "support/kube/node.hpp"

#include "support/kube/harness.hpp"
#include "support/support.hpp"

#include <poetryops/kube/client.hpp>
#include <poetryops/kube/status.hpp>
#include <poetryops/util/fs.hpp>
#include <poetryops/util/strings.hpp>

#include <nlohmann/json.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

namespace poetryops::test::kube {
namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;
using poetryops::kube::ResourceRef;
using poetryops::kube::RestClient;

namespace {

using harness::alive;
using harness::env_or;
using harness::exe_of;
using harness::openssl;
using harness::tail_of;
using test::free_port;

// The kubelet writes these at start (protectKernelDefaults: false), the CNI bridge plugin
// (isGateway) ip_forward.
const std::vector<std::string> kSysctls = {
    "vm.overcommit_memory", "vm.panic_on_oom",          "kernel.panic",
    "kernel.panic_on_oops", "kernel.keys.root_maxkeys", "kernel.keys.root_maxbytes",
    "net.ipv4.ip_forward"};
// Paths the kubelet (v1.28) and containerd (1.6) use whatever their configuration says: Pod logs,
// the device-plugin socket, the shims' sockets (/run/containerd/s) and libcni's result cache
// (/var/lib/cni). Each with the program that writes there.
const std::vector<std::pair<std::string, std::string>> kFixedPaths = {
    {"/var/log/pods", "kubelet"},
    {"/var/log/containers", "kubelet"},
    {"/var/lib/kubelet", "kubelet"},
    {"/run/containerd", "containerd"},
    {"/var/lib/cni", "containerd"}};

std::string writer_of(const std::string& path) {
    for (const auto& [p, w] : kFixedPaths) {
        if (p == path) return w;
    }
    return "kubelet";
}
const char* kPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const char* kImagePrefix = "localhost/poetryops-test/";

fs::path bin_dir() { return env_or("POETRYOPS_TEST_K8S_BIN", POETRYOPS_DEFAULT_K8S_BIN); }

double seconds_since(Clock::time_point t0) {
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

std::string secs(double s) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f s", s);
    return buf;
}

void progress(std::FILE* out, const std::string& line) {
    if (out == nullptr) return;
    std::fprintf(out, "kube node: %s\n", line.c_str());
    std::fflush(out);
}

/// Zombies count as gone.
bool running(int pid) {
    if (!alive(pid)) return false;
    auto stat = read_file("/proc/" + std::to_string(pid) + "/stat", 4096);
    if (!stat) return false;
    auto close = stat->rfind(')');
    return close == std::string::npos || close + 2 >= stat->size() || (*stat)[close + 2] != 'Z';
}

std::vector<std::string> cmdline_of(int pid) {
    auto text = read_file("/proc/" + std::to_string(pid) + "/cmdline", 1 << 16);
    std::vector<std::string> args;
    if (!text) return args;
    std::string cur;
    for (char c : *text) {
        if (c == '\0') {
            args.push_back(cur);
            cur.clear();
        } else {
            cur += c;
        }
    }
    if (!cur.empty()) args.push_back(cur);
    return args;
}

std::vector<int> all_pids() {
    std::vector<int> pids;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator("/proc", ec)) {
        const std::string n = e.path().filename().string();
        if (!n.empty() &&
            std::all_of(n.begin(), n.end(), [](char c) { return c >= '0' && c <= '9'; })) {
            pids.push_back(std::atoi(n.c_str()));
        }
    }
    return pids;
}

/// Pids (other than `except`) whose executable's file name is `name`.
std::vector<int> pids_running(const std::string& name, const std::set<int>& except = {}) {
    std::vector<int> out;
    for (int pid : all_pids()) {
        if (except.count(pid) != 0) continue;
        std::string exe = exe_of(pid);
        if (exe.size() > 10 && exe.ends_with(" (deleted)")) exe.resize(exe.size() - 10);
        if (!exe.empty() && fs::path(exe).filename() == name) out.push_back(pid);
    }
    return out;
}

long vm_hwm_kib(int pid) {
    auto text = read_file("/proc/" + std::to_string(pid) + "/status", 1 << 16);
    if (!text) return 0;
    auto at = text->find("VmHWM:");
    return at == std::string::npos ? 0 : std::atol(text->c_str() + at + 6);
}

/// One node lane per machine (the kubelet's fixed paths and the cgroup root are shared): an
/// abstract unix socket bound for the node's lifetime. Nothing on disk, released when its process
/// ends. Returns -1 when it is held.
int take_machine_lock() {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    const char name[] = "poetryops-test-node-lock";
    std::memcpy(addr.sun_path + 1, name,
                sizeof name - 1);  // sun_path[0] == '\0': the abstract namespace
    socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + sizeof name - 1);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

std::string find_program(const std::string& name) {
    for (const auto& d : str::split(kPath, ':')) {
        if (::access((d + "/" + name).c_str(), X_OK) == 0) return d + "/" + name;
    }
    return {};
}

// ---- sysctls ----

fs::path sysctl_path(const std::string& name) {
    return fs::path("/proc/sys") / str::replace_all(name, ".", "/");
}

std::optional<std::string> read_sysctl(const std::string& name) {
    auto v = read_file(sysctl_path(name), 4096);
    if (!v) return std::nullopt;
    return std::string(str::trim(*v));
}

bool write_sysctl(const std::string& name, const std::string& value) {
    int fd = ::open(sysctl_path(name).c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return false;
    std::string v = value + "\n";
    bool ok = ::write(fd, v.data(), v.size()) == static_cast<ssize_t>(v.size());
    ::close(fd);
    return ok;
}

// ---- /etc/hosts ----

const fs::path kHosts = "/etc/hosts";

/// The addresses /etc/hosts gives `host`.
std::vector<std::string> hosts_addresses(const std::string& text, const std::string& host) {
    std::vector<std::string> out;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        line = line.substr(0, line.find('#'));
        std::istringstream words(line);
        std::string addr, name;
        if (!(words >> addr)) continue;
        while (words >> name) {
            if (name == host) out.push_back(addr);
        }
    }
    return out;
}

/// Rewrites /etc/hosts in place (same inode: it may be a bind mount).
bool rewrite_in_place(const fs::path& file, const std::string& text) {
    int fd = ::open(file.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
    if (fd < 0) return false;
    bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
    ::close(fd);
    return ok;
}

bool append_line(const fs::path& file, const std::string& line) {
    auto text = read_file(file);
    std::string add = (text && !text->empty() && text->back() != '\n' ? "\n" : "") + line + "\n";
    int fd = ::open(file.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd < 0) return false;
    bool ok = ::write(fd, add.data(), add.size()) == static_cast<ssize_t>(add.size());
    ::close(fd);
    return ok;
}

/// Removes the first line equal to `line`. Returns false when it is not there.
bool remove_line(const fs::path& file, const std::string& line, bool& failed) {
    failed = false;
    auto text = read_file(file);
    if (!text) return false;
    std::string out;
    bool removed = false;
    std::size_t start = 0;
    while (start < text->size()) {
        auto nl = text->find('\n', start);
        std::size_t end = nl == std::string::npos ? text->size() : nl;
        std::string l = text->substr(start, end - start);
        if (!removed && l == line) {
            removed = true;
        } else {
            out += l;
            if (nl != std::string::npos) out += '\n';
        }
        start = nl == std::string::npos ? text->size() : nl + 1;
    }
    if (removed && !rewrite_in_place(file, out)) failed = true;
    return removed;
}

// ---- mounts ----

/// Mount points in mountinfo escape space, tab, newline and backslash as \ooo.
std::string unescape_mount(const std::string& s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\\' && i + 3 < s.size()) {
            bool octal = true;
            for (std::size_t k = 1; k <= 3; ++k)
                octal = octal && s[i + k] >= '0' && s[i + k] <= '7';
            if (octal) {
                out += static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 +
                                         (s[i + 3] - '0'));
                i += 3;
                continue;
            }
        }
        out += s[i];
    }
    return out;
}

struct MountEntry {
    std::string point;
    std::string fstype;
};

std::vector<MountEntry> mount_table() {
    std::vector<MountEntry> out;
    auto text = read_file("/proc/self/mountinfo", 16 << 20);
    if (!text) return out;
    std::istringstream in(*text);
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream f(line);
        std::string id, parent, dev, root, point;
        if (!(f >> id >> parent >> dev >> root >> point)) continue;
        auto dash = line.find(" - ");
        std::string fstype;
        if (dash != std::string::npos) {
            std::istringstream t(line.substr(dash + 3));
            t >> fstype;
        }
        out.push_back({unescape_mount(point), fstype});
    }
    return out;
}

std::string canonical_string(const fs::path& p) {
    std::error_code ec;
    auto c = fs::weakly_canonical(p, ec);
    return (ec ? p : c).string();
}

/// Mount points at or under `dir`, deepest first.
std::vector<std::string> mounts_under(const fs::path& dir) {
    const std::string base = canonical_string(dir);
    std::vector<std::string> out;
    for (const auto& m : mount_table()) {
        if (m.point == base || m.point.rfind(base + "/", 0) == 0) out.push_back(m.point);
    }
    std::sort(out.begin(), out.end(),
              [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

/// Unmounts everything under `dir`. Returns how many mount points are left.
std::size_t unmount_under(const fs::path& dir, int& count) {
    count = 0;
    for (int pass = 0; pass < 5; ++pass) {
        auto mounts = mounts_under(dir);
        if (mounts.empty()) return 0;
        for (const auto& m : mounts) {
            if (::umount2(m.c_str(), 0) == 0 || ::umount2(m.c_str(), MNT_DETACH) == 0) ++count;
        }
    }
    return mounts_under(dir).size();
}

/// Unmounts, then removes the tree; refuses while anything is still mounted under it.
Result<void> remove_tree(const fs::path& dir) {
    std::error_code ec;
    if (!fs::exists(dir, ec)) return ok();
    int n = 0;
    if (std::size_t left = unmount_under(dir, n); left > 0) {
        return fail(Error::Kind::internal, std::to_string(left) + " mount(s) still under " +
                                               dir.string() + ": not removing it");
    }
    fs::remove_all(dir, ec);
    if (ec)
        return fail(Error::Kind::internal, "cannot remove " + dir.string() + ": " + ec.message());
    return ok();
}

// ---- cgroups (v1: one hierarchy per controller) ----

std::vector<fs::path> cgroup_hierarchies() {
    std::vector<fs::path> out;
    for (const auto& m : mount_table()) {
        if (m.fstype == "cgroup" || m.fstype == "cgroup2") out.emplace_back(m.point);
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

std::vector<int> cgroup_procs(const std::string& root) {
    std::set<int> pids;
    for (const auto& h : cgroup_hierarchies()) {
        std::error_code ec;
        fs::path top = h / root;
        if (!fs::is_directory(top, ec)) continue;
        std::vector<fs::path> dirs{top};
        for (auto it = fs::recursive_directory_iterator(top, ec);
             !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
            if (it->is_directory(ec)) dirs.push_back(it->path());
        }
        for (const auto& d : dirs) {
            auto text = read_file(d / "cgroup.procs", 1 << 20);
            if (!text) continue;
            std::istringstream in(*text);
            int pid;
            while (in >> pid) pids.insert(pid);
        }
    }
    return {pids.begin(), pids.end()};
}

/// Removes the cgroup subtree `root` in every hierarchy (deepest first). Returns the directories
/// left.
std::vector<std::string> remove_cgroups(const std::string& root) {
    std::vector<std::string> left;
    for (const auto& h : cgroup_hierarchies()) {
        std::error_code ec;
        fs::path top = h / root;
        if (!fs::is_directory(top, ec)) continue;
        std::vector<fs::path> dirs{top};
        for (auto it = fs::recursive_directory_iterator(top, ec);
             !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
            if (it->is_directory(ec)) dirs.push_back(it->path());
        }
        std::sort(dirs.begin(), dirs.end(), [](const fs::path& a, const fs::path& b) {
            return a.string().size() > b.string().size();
        });
        for (const auto& d : dirs) {
            for (int i = 0; i < 20 && ::rmdir(d.c_str()) != 0 && errno == EBUSY; ++i) {
                std::this_thread::sleep_for(std::chrono::milliseconds(50));
            }
        }
        if (fs::exists(top, ec)) left.push_back(top.string());
    }
    return left;
}

Result<void> create_cgroups(const std::string& root) {
    for (const auto& h : cgroup_hierarchies()) {
        fs::path d = h / root;
        if (::mkdir(d.c_str(), 0755) != 0 && errno != EEXIST) {
            return fail(Error::Kind::internal,
                        "cannot create cgroup " + d.string() + ": " + std::strerror(errno));
        }
        // A new cpuset starts with no CPUs and no memory nodes: give it its parent's.
        for (const char* f : {"cpuset.cpus", "cpuset.mems"}) {
            std::error_code ec;
            if (!fs::exists(d / f, ec)) continue;
            auto mine = read_file(d / f, 4096);
            if (mine && !str::trim(*mine).empty()) continue;
            auto parent = read_file(h / f, 4096);
            if (parent) (void)rewrite_in_place(d / f, *parent);
        }
    }
    return ok();
}

// ---- network ----

bool link_exists(const std::string& name) {
    std::error_code ec;
    return !name.empty() && fs::exists("/sys/class/net/" + name, ec);
}

/// The interface of a route to exactly `subnet` (a.b.c.d/len), empty when none.
std::string route_interface(const std::string& subnet) {
    auto slash = subnet.find('/');
    if (slash == std::string::npos) return {};
    in_addr addr{};
    if (::inet_pton(AF_INET, subnet.substr(0, slash).c_str(), &addr) != 1) return {};
    int len = std::atoi(subnet.c_str() + slash + 1);
    std::uint32_t mask = len == 0 ? 0 : htonl(~std::uint32_t{0} << (32 - len));
    auto text = read_file("/proc/net/route", 1 << 20);
    if (!text) return {};
    std::istringstream in(*text);
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
        std::istringstream f(line);
        std::string iface, dest, gw, flags, refcnt, use, metric, m;
        if (!(f >> iface >> dest >> gw >> flags >> refcnt >> use >> metric >> m)) continue;
        std::uint32_t d = static_cast<std::uint32_t>(std::stoul(dest, nullptr, 16));
        std::uint32_t mm = static_cast<std::uint32_t>(std::stoul(m, nullptr, 16));
        if (d == addr.s_addr && mm == mask) return iface;
    }
    return {};
}

// ---- processes of the node outside its process groups ----

/// containerd shims serving our socket (`containerd-shim-runc-v2 ... -address SOCK`).
std::vector<int> shims_of(const fs::path& socket) {
    std::vector<int> out;
    for (int pid : pids_running("containerd-shim-runc-v2")) {
        auto args = cmdline_of(pid);
        for (std::size_t i = 0; i + 1 < args.size(); ++i) {
            if (args[i] == "-address" && args[i + 1] == socket.string()) {
                out.push_back(pid);
                break;
            }
        }
    }
    return out;
}

/// SIGTERM, wait up to `grace`, then SIGKILL; `group`: the pid leads a process group. Returns
/// whether it is gone.
bool terminate(int pid, bool group, std::chrono::milliseconds grace) {
    if (!running(pid)) return true;
    ::kill(group ? -pid : pid, SIGTERM);
    auto deadline = Clock::now() + grace;
    while (running(pid) && Clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (running(pid)) {
        if (group) ::kill(-pid, SIGKILL);
        ::kill(pid, SIGKILL);
        for (int i = 0; i < 100 && running(pid); ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return !running(pid);
}

// ---- PKI and kubeconfigs ----

/// An EC key and a certificate signed by the cluster CA.
Result<void> issue(const fs::path& pki, const fs::path& ca_dir, const std::string& name,
                   const std::string& subject, const std::string& ext) {
    POETRYOPS_TRY_VOID(write_file_atomic(pki / (name + ".ext"), ext));
    POETRYOPS_TRY_VOID(
        openssl({"req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                 "-nodes", "-keyout", name + ".key", "-out", name + ".csr", "-subj", subject},
                pki));
    return openssl(
        {"x509", "-req", "-in", name + ".csr", "-CA", (ca_dir / "ca.crt").string(), "-CAkey",
         (ca_dir / "ca.key").string(), "-CAcreateserial", "-CAserial", "ca.srl", "-days", "3",
         "-sha256", "-extfile", name + ".ext", "-out", name + ".crt"},
        pki);
}

std::string kubeconfig(const std::string& server, const fs::path& ca, const fs::path& cert,
                       const fs::path& key) {
    return "apiVersion: v1\nkind: Config\ncurrent-context: node\nclusters:\n- name: test\n  "
           "cluster:\n    server: " +
           server + "\n    certificate-authority: " + ca.string() +
           "\nusers:\n- name: node\n  user:\n" + "    client-certificate: " + cert.string() +
           "\n    client-key: " + key.string() +
           "\ncontexts:\n- name: node\n  context:\n    cluster: test\n    user: node\n";
}

Result<std::unique_ptr<RestClient>> admin_client(const fs::path& admin_kubeconfig,
                                                 std::chrono::milliseconds timeout) {
    POETRYOPS_TRY(auto cfg, poetryops::kube::load_kubeconfig(admin_kubeconfig));
    return RestClient::create(
        cfg, {.request_timeout = timeout, .connect_timeout = std::chrono::seconds(2)});
}

// ---- images: tar, OCI layout ----

void octal(char* field, std::size_t width, unsigned long long v) {
    std::snprintf(field, width, "%0*llo", static_cast<int>(width - 1), v);
}

class TarWriter {
public:
    void add(const ImageEntry& e) {
        std::string name = e.path;
        if (e.type == ImageEntry::Type::dir && !name.ends_with("/")) name += "/";
        char h[512];
        std::memset(h, 0, sizeof h);
        std::string prefix;
        if (name.size() > 100) {  // ustar: split at a '/' into prefix (155) and name (100)
            auto cut = name.rfind('/', name.size() - 2);
            while (cut != std::string::npos && name.size() - cut - 1 > 100)
                cut = name.rfind('/', cut - 1);
            if (cut != std::string::npos && cut <= 155) {
                prefix = name.substr(0, cut);
                name = name.substr(cut + 1);
            }
        }
        std::memcpy(h, name.data(), std::min<std::size_t>(name.size(), 100));
        octal(h + 100, 8, e.mode & 07777);
        octal(h + 108, 8, 0);
        octal(h + 116, 8, 0);
        const bool file = e.type == ImageEntry::Type::file;
        octal(h + 124, 12, file ? e.content.size() : 0);
        octal(h + 136, 12, 0);
        h[156] = file ? '0' : e.type == ImageEntry::Type::dir ? '5' : '2';
        if (e.type == ImageEntry::Type::symlink)
            std::memcpy(h + 157, e.content.data(), std::min<std::size_t>(e.content.size(), 100));
        std::memcpy(h + 257, "ustar", 6);
        std::memcpy(h + 263, "00", 2);
        std::memcpy(h + 265, "root", 4);
        std::memcpy(h + 297, "root", 4);
        std::memcpy(h + 345, prefix.data(), std::min<std::size_t>(prefix.size(), 155));
        std::memset(h + 148, ' ', 8);
        unsigned sum = 0;
        for (unsigned char c : h) sum += c;
        std::snprintf(h + 148, 8, "%06o", sum);
        h[155] = ' ';
        out_.append(h, sizeof h);
        if (file) {
            out_ += e.content;
            out_.append((512 - e.content.size() % 512) % 512, '\0');
        }
    }
    std::string finish() {
        out_.append(1024, '\0');
        return std::move(out_);
    }

private:
    std::string out_;
};

std::string digest_of(const std::string& bytes) { return "sha256:" + str::sha256_hex(bytes); }

std::string go_arch() {
    utsname u{};
    ::uname(&u);
    std::string m = u.machine;
    if (m == "x86_64") return "amd64";
    if (m == "aarch64") return "arm64";
    return m;
}

const char* kPauseSource =
    R"(/* poetryops node lane: the Pod sandbox's process. Sleeps; exits 0 on TERM/INT; reaps orphans. */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
static void quit(int sig) { (void)sig; _exit(0); }
static void reap(int sig) { (void)sig; while (waitpid(-1, 0, WNOHANG) > 0) {} }
int main(void) {
    struct sigaction sa = {0};
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = quit;
    sigaction(SIGTERM, &sa, 0);
    sigaction(SIGINT, &sa, 0);
    sa.sa_handler = reap;
    sa.sa_flags = SA_NOCLDSTOP | SA_RESTART;
    sigaction(SIGCHLD, &sa, 0);
    for (;;) pause();
}
)";

Result<std::vector<ImageEntry>> pause_layer(const fs::path& work) {
    std::error_code ec;
    fs::create_directories(work, ec);
    POETRYOPS_TRY_VOID(write_file_atomic(work / "pause.c", kPauseSource));
    std::vector<std::string> cc{
        "cc", "-Os", "-static", "-s", "-o", (work / "pause").string(), (work / "pause.c").string()};
    POETRYOPS_TRY(auto r, run_process(cc, {.timeout = std::chrono::seconds(120)}));
    if (!r.ok()) return fail(Error::Kind::internal, format_argv(cc) + ": " + r.err);
    POETRYOPS_TRY(auto bin, read_file(work / "pause"));
    return std::vector<ImageEntry>{{"pause", ImageEntry::Type::file, bin, 0755}};
}

}  // namespace

// ---- images (public) ----

Result<std::vector<ImageEntry>> busybox_layer() {
    POETRYOPS_TRY(auto bin, read_file("/bin/busybox"));
    POETRYOPS_TRY(auto list,
                  run_process({"/bin/busybox", "--list"}, {.timeout = std::chrono::seconds(10)}));
    if (!list.ok()) return fail(Error::Kind::internal, "/bin/busybox --list: " + list.err);
    std::vector<ImageEntry> e;
    using T = ImageEntry::Type;
    for (const char* d : {"bin", "etc", "root", "dev", "proc", "sys"})
        e.push_back({d, T::dir, "", 0755});
    e.push_back({"tmp", T::dir, "", 01777});
    e.push_back({"bin/busybox", T::file, std::move(bin), 0755});
    for (const auto& applet : str::split_nonempty(list.out, '\n')) {
        if (applet != "busybox" && applet.find('/') == std::string::npos) {
            e.push_back({"bin/" + applet, T::symlink, "busybox", 0777});
        }
    }
    e.push_back({"etc/passwd", T::file,
                 "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
                 0644});
    e.push_back({"etc/group", T::file, "root:x:0:\nnogroup:x:65534:\n", 0644});
    return e;
}

Result<std::vector<BuiltImage>> write_image_archive(const std::vector<ImageSpec>& images,
                                                    const fs::path& archive) {
    std::map<std::string, std::string> blobs;  // digest → bytes
    json manifests = json::array();
    std::vector<BuiltImage> built;
    for (const auto& spec : images) {
        if (spec.repository.empty() || spec.tag.empty()) {
            return fail(Error::Kind::invalid, "image needs a repository and a tag");
        }
        json layers = json::array(), diff_ids = json::array();
        for (const auto& layer : spec.layers) {
            TarWriter t;
            for (const auto& e : layer) t.add(e);
            std::string bytes = t.finish();
            std::string d = digest_of(bytes);
            layers.push_back({{"mediaType", "application/vnd.oci.image.layer.v1.tar"},
                              {"digest", d},
                              {"size", bytes.size()}});
            diff_ids.push_back(d);
            blobs.emplace(d, std::move(bytes));
        }
        json cfg_inner = {{"Env", spec.env}};
        if (!spec.entrypoint.empty()) cfg_inner["Entrypoint"] = spec.entrypoint;
        if (!spec.cmd.empty()) cfg_inner["Cmd"] = spec.cmd;
        json config = {{"architecture", go_arch()},
                       {"os", "linux"},
                       {"config", cfg_inner},
                       {"rootfs", {{"type", "layers"}, {"diff_ids", diff_ids}}}};
        std::string config_bytes = config.dump();
        std::string config_digest = digest_of(config_bytes);
        blobs.emplace(config_digest, config_bytes);
        json manifest = {{"schemaVersion", 2},
                         {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                         {"config",
                          {{"mediaType", "application/vnd.oci.image.config.v1+json"},
                           {"digest", config_digest},
                           {"size", config_bytes.size()}}},
                         {"layers", layers}};
        std::string manifest_bytes = manifest.dump();
        std::string manifest_digest = digest_of(manifest_bytes);
        blobs.emplace(manifest_digest, manifest_bytes);
        BuiltImage b{spec.repository, spec.tag, manifest_digest, config_digest};
        for (const std::string& name : {b.by_tag(), b.by_digest()}) {
            manifests.push_back({{"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                                 {"digest", manifest_digest},
                                 {"size", manifest_bytes.size()},
                                 {"annotations", {{"io.containerd.image.name", name}}}});
        }
        built.push_back(std::move(b));
    }
    json index = {{"schemaVersion", 2},
                  {"mediaType", "application/vnd.oci.image.index.v1+json"},
                  {"manifests", manifests}};
    TarWriter out;
    out.add({"oci-layout", ImageEntry::Type::file, R"({"imageLayoutVersion":"1.0.0"})", 0644});
    out.add({"index.json", ImageEntry::Type::file, index.dump(), 0644});
    out.add({"blobs", ImageEntry::Type::dir, "", 0755});
    out.add({"blobs/sha256", ImageEntry::Type::dir, "", 0755});
    for (auto& [d, bytes] : blobs) {
        out.add({"blobs/sha256/" + d.substr(7), ImageEntry::Type::file, bytes, 0644});
    }
    std::error_code ec;
    if (archive.has_parent_path()) fs::create_directories(archive.parent_path(), ec);
    POETRYOPS_TRY_VOID(write_file_atomic(archive, out.finish()));
    return built;
}

Result<void> import_images(const NodeInfo& node, const fs::path& archive) {
    std::vector<std::string> argv{"ctr",    "--address",     node.containerd_socket.string(),
                                  "-n",     "k8s.io",        "images",
                                  "import", archive.string()};
    POETRYOPS_TRY(auto r, run_process(argv, {.timeout = std::chrono::seconds(180)}));
    if (!r.ok()) return fail(Error::Kind::internal, format_argv(argv) + ": " + r.err + r.out);
    return ok();
}

// ---- state file ----

Result<void> write_node_info(const NodeInfo& i, const fs::path& file) {
    json pids = json::array();
    for (const auto& [exe, pid] : i.pids) pids.push_back({{"exe", exe}, {"pid", pid}});
    json j = {{"nodeName", i.node_name},
              {"dir", i.dir.string()},
              {"containerdSocket", i.containerd_socket.string()},
              {"pauseImage", i.pause_image},
              {"busyboxImage", i.busybox_image},
              {"busyboxDigest", i.busybox_digest},
              {"podSubnet", i.pod_subnet},
              {"server", i.server},
              {"adminKubeconfig", i.admin_kubeconfig.string()},
              {"kubeletPort", i.kubelet_port},
              {"schedulerPort", i.scheduler_port},
              {"ready", i.ready},
              {"stopped", i.stopped},
              {"supervisorPid", i.supervisor_pid},
              {"pids", pids},
              {"hostChanges",
               {{"sysctls", i.changes.sysctls},
                {"hostsLine", i.changes.hosts_line},
                {"bridge", i.changes.bridge},
                {"cgroupRoot", i.changes.cgroup_root},
                {"createdPaths", i.changes.created_paths}}},
              {"apiObjects", i.api_objects},
              {"peakRssKiB", i.peak_rss_kib},
              {"startSeconds", i.start_seconds}};
    return write_file_atomic(file, j.dump(2) + "\n");
}

Result<NodeInfo> read_node_info(const fs::path& file) {
    POETRYOPS_TRY(auto text, read_file(file));
    json j = json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object())
        return fail(Error::Kind::decode, file.string() + ": not a node file");
    NodeInfo i;
    try {
        i.node_name = j.value("nodeName", "node1");
        i.dir = j.value("dir", "");
        i.containerd_socket = j.value("containerdSocket", "");
        i.pause_image = j.value("pauseImage", "");
        i.busybox_image = j.value("busyboxImage", "");
        i.busybox_digest = j.value("busyboxDigest", "");
        i.pod_subnet = j.value("podSubnet", "");
        i.server = j.value("server", "");
        i.admin_kubeconfig = j.value("adminKubeconfig", "");
        i.kubelet_port = j.value("kubeletPort", 0);
        i.scheduler_port = j.value("schedulerPort", 0);
        i.ready = j.value("ready", false);
        i.stopped = j.value("stopped", false);
        i.supervisor_pid = j.value("supervisorPid", 0);
        for (const auto& p : j.value("pids", json::array()))
            i.pids.emplace_back(p.value("exe", ""), p.value("pid", 0));
        const json h = j.value("hostChanges", json::object());
        i.changes.sysctls = h.value("sysctls", std::map<std::string, std::string>{});
        i.changes.hosts_line = h.value("hostsLine", "");
        i.changes.bridge = h.value("bridge", "");
        i.changes.cgroup_root = h.value("cgroupRoot", "");
        i.changes.created_paths = h.value("createdPaths", std::vector<std::string>{});
        i.api_objects = j.value("apiObjects", std::vector<std::string>{});
        i.peak_rss_kib = j.value("peakRssKiB", std::map<std::string, long>{});
        i.start_seconds = j.value("startSeconds", 0.0);
    } catch (const json::exception& e) {
        return fail(Error::Kind::decode, file.string() + ": " + e.what());
    }
    if (i.dir.empty()) return fail(Error::Kind::decode, file.string() + ": no dir");
    return i;
}

// ---- checks ----

std::string node_skip_reason() {
    std::string why = lane_skip_reason();
    if (!why.empty()) return why;
    const std::string p = "node lane skipped: ";
    std::error_code ec;
    for (const char* b : {"kubelet", "kube-scheduler"}) {
        if (!fs::exists(bin_dir() / b, ec)) {
            return p + "no " + b + " in " + bin_dir().string() +
                   " (scripts/kube-lane.sh unpacks it beside "
                   "kube-apiserver)";
        }
    }
    if (::geteuid() != 0)
        return p + "not root (containerd, runc, mounts, cgroups and /etc/hosts need root)";
    for (const char* prog :
         {"containerd", "containerd-shim-runc-v2", "runc", "ctr", "ip", "cc", "openssl"}) {
        if (find_program(prog).empty()) {
            return p + std::string("no ") + prog +
                   " on PATH (scripts/setup.sh installs containerd, runc, "
                   "containernetworking-plugins, iproute2, gcc)";
        }
    }
    for (const char* f :
         {"/usr/lib/cni/bridge", "/usr/lib/cni/host-local", "/usr/lib/cni/loopback"}) {
        if (::access(f, X_OK) != 0)
            return p + "no " + f + " (apt-get install containernetworking-plugins)";
    }
    if (::access("/bin/busybox", X_OK) != 0)
        return p + "no /bin/busybox (apt-get install busybox-static)";
    if (!fs::exists("/sys/fs/cgroup/memory/memory.limit_in_bytes", ec)) {
        return p +
               "no cgroup v1 memory hierarchy at /sys/fs/cgroup/memory (the lane runs the kubelet "
               "with cgroup "
               "v1 + cgroupfs)";
    }
    if (::access(kHosts.c_str(), W_OK) != 0) return p + "/etc/hosts is not writable";
    if (auto hosts = read_file(kHosts)) {
        for (const auto& a : hosts_addresses(*hosts, "node1")) {
            if (a != "127.0.0.1")
                return p + "node1 resolves to " + a + " in /etc/hosts (the lane needs 127.0.0.1)";
        }
    }
    if (int lock = take_machine_lock(); lock < 0) {
        return p +
               "another poetryops test node runs on this machine (it holds "
               "@poetryops-test-node-lock)";
    } else {
        ::close(lock);
    }
    if (auto others = pids_running("kubelet"); !others.empty()) {
        return p + "another kubelet (pid " + std::to_string(others.front()) +
               ") runs on this machine; the kubelet's fixed paths and cgroups allow one per "
               "machine";
    }
    return {};
}

// ---- undo ----

UndoReport undo_node(NodeInfo& info) {
    UndoReport r;
    std::set<int> ours;
    // 1. The processes it started, while they still run the binary recorded for them (last started
    // first).
    for (auto it = info.pids.rbegin(); it != info.pids.rend(); ++it) {
        const auto& [exe, pid] = *it;
        if (!running(pid)) continue;
        if (exe_of(pid) != exe) continue;
        ours.insert(pid);
        if (terminate(pid, true, std::chrono::seconds(10))) {
            r.done.push_back("stopped " + fs::path(exe).filename().string() + " (pid " +
                             std::to_string(pid) + ")");
        } else {
            r.problems.push_back(exe + " (pid " + std::to_string(pid) + ") survived SIGKILL");
        }
    }
    info.pids.clear();
    // 2. Its containerd's shims and every process of its Pods (they all live in its cgroup
    // subtree).
    if (!info.containerd_socket.empty()) {
        for (int pid : shims_of(info.containerd_socket)) {
            ::kill(pid, SIGKILL);
            r.done.push_back("killed containerd shim pid " + std::to_string(pid));
        }
    }
    if (!info.changes.cgroup_root.empty()) {
        int killed = 0;
        for (int round = 0; round < 50; ++round) {
            auto pids = cgroup_procs(info.changes.cgroup_root);
            if (pids.empty()) break;
            for (int pid : pids) {
                if (::kill(pid, SIGKILL) == 0 && round == 0) ++killed;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        if (killed > 0)
            r.done.push_back("killed " + std::to_string(killed) +
                             " Pod process(es) left in its cgroups");
        if (auto left = cgroup_procs(info.changes.cgroup_root); !left.empty()) {
            r.problems.push_back(std::to_string(left.size()) + " process(es) still in cgroup " +
                                 info.changes.cgroup_root);
        }
    }
    if (!info.containerd_socket.empty()) {
        for (int i = 0; i < 100 && !shims_of(info.containerd_socket).empty(); ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
    }
    // 3. Mounts under its folder (container root filesystems, network namespaces, Pod volumes).
    if (!info.dir.empty()) {
        int n = 0;
        std::size_t left = unmount_under(info.dir, n);
        if (n > 0)
            r.done.push_back("unmounted " + std::to_string(n) + " mount(s) under " +
                             info.dir.string());
        if (left > 0)
            r.problems.push_back(std::to_string(left) + " mount(s) left under " +
                                 info.dir.string());
    }
    // 4. Host changes.
    if (!info.changes.bridge.empty()) {
        if (link_exists(info.changes.bridge)) {
            auto del = run_process({"ip", "link", "del", info.changes.bridge},
                                   {.timeout = std::chrono::seconds(20)});
            if (del && del->ok()) {
                r.done.push_back("deleted bridge " + info.changes.bridge);
            } else {
                r.problems.push_back("cannot delete bridge " + info.changes.bridge + ": " +
                                     (del ? del->err : ""));
            }
        }
        if (!link_exists(info.changes.bridge)) info.changes.bridge.clear();
    }
    std::vector<std::string> restored;
    for (auto it = info.changes.sysctls.begin(); it != info.changes.sysctls.end();) {
        auto now = read_sysctl(it->first);
        if (now && *now == it->second) {
            it = info.changes.sysctls.erase(it);
            continue;
        }
        if (write_sysctl(it->first, it->second)) {
            restored.push_back(it->first + "=" + it->second + " (was " + now.value_or("?") + ")");
            it = info.changes.sysctls.erase(it);
        } else {
            r.problems.push_back("cannot restore " + it->first + "=" + it->second);
            ++it;
        }
    }
    if (!restored.empty()) r.done.push_back("restored " + str::join(restored, ", "));
    if (!info.changes.hosts_line.empty()) {
        bool failed = false;
        if (remove_line(kHosts, info.changes.hosts_line, failed))
            r.done.push_back("removed its /etc/hosts line");
        if (failed) {
            r.problems.push_back("cannot rewrite /etc/hosts");
        } else {
            info.changes.hosts_line.clear();
        }
    }
    if (!info.changes.cgroup_root.empty()) {
        auto left = remove_cgroups(info.changes.cgroup_root);
        if (left.empty()) {
            r.done.push_back("removed cgroups " + info.changes.cgroup_root);
            info.changes.cgroup_root.clear();
        } else {
            r.problems.push_back("cgroup(s) left: " + str::join(left, " "));
        }
    }
    // 5. Fixed paths it created: all of it when no other kubelet/containerd could have written
    // there since.
    std::vector<std::string> kept;
    for (const auto& path : info.changes.created_paths) {
        std::error_code ec;
        if (!fs::exists(path, ec) && !fs::is_symlink(path, ec)) continue;
        const std::string owner = writer_of(path);
        if (pids_running(owner, ours).empty()) {
            auto removed = remove_tree(path);
            if (removed) {
                r.done.push_back("removed " + path);
            } else {
                r.problems.push_back(removed.error().message);
                kept.push_back(path);
            }
            continue;
        }
        // Another one runs now: only empty folders go.
        std::vector<fs::path> dirs;
        for (auto it = fs::recursive_directory_iterator(path, ec);
             !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
            if (it->is_directory(ec) && !it->is_symlink(ec)) dirs.push_back(it->path());
        }
        std::sort(dirs.begin(), dirs.end(), [](const fs::path& a, const fs::path& b) {
            return a.string().size() > b.string().size();
        });
        for (const auto& d : dirs) ::rmdir(d.c_str());
        ::rmdir(path.c_str());
        if (fs::exists(path, ec)) {
            r.done.push_back("left " + path + " in place: another " + owner +
                             " runs and it is not empty");
            kept.push_back(path);
        } else {
            r.done.push_back("removed " + path);
        }
    }
    info.changes.created_paths = kept;
    // 6. The API objects it created (when the cluster still answers).
    if (!info.api_objects.empty() && !info.admin_kubeconfig.empty()) {
        auto client = admin_client(info.admin_kubeconfig, std::chrono::seconds(3));
        if (client) {
            std::vector<std::string> left;
            for (const auto& path : info.api_objects) {
                auto del = (*client)->raw("DELETE", path);
                if (del) {
                    r.done.push_back("deleted " + path);
                } else if (!poetryops::kube::is_not_found(del.error()) &&
                           del.error().kind != Error::Kind::transport &&
                           del.error().kind != Error::Kind::timeout) {
                    left.push_back(path);
                }
            }
            info.api_objects = left;
        }
    }
    return r;
}

// ---- Node ----

Result<void> Node::save() {
    if (state_file_.empty()) return ok();
    return write_node_info(info_, state_file_);
}

Result<void> Node::start(const fs::path& dir, const ClusterInfo& cluster,
                         const NodeOptions& options) {
    auto t0 = Clock::now();
    stop();
    options_ = options;
    info_ = NodeInfo{};
    info_.dir = fs::absolute(dir);
    info_.node_name = options.node_name;
    info_.pod_subnet = options.pod_subnet;
    info_.server = cluster.server;
    info_.admin_kubeconfig = cluster.admin_kubeconfig;
    info_.supervisor_pid = options.supervisor_pid;
    state_file_ = options.state_file.empty() ? info_.dir / "node.json" : options.state_file;

    // A previous node recorded in the same state file: undo what it left (it crashed or was
    // killed).
    std::error_code ec;
    if (fs::exists(state_file_, ec)) {
        if (auto old = read_node_info(state_file_)) {
            if (old->supervisor_pid > 0 && old->supervisor_pid != ::getpid() &&
                running(old->supervisor_pid) && exe_of(old->supervisor_pid) == exe_of(::getpid())) {
                terminate(old->supervisor_pid, false, std::chrono::seconds(120));
            }
            auto undone = undo_node(*old);
            for (const auto& l : undone.done) progress(options.progress, "previous node: " + l);
            for (const auto& l : undone.problems)
                progress(options.progress, "previous node: LEFT " + l);
        }
    }
    if (std::string why = node_skip_reason(); !why.empty())
        return fail(Error::Kind::not_found, why);
    lock_fd_ = take_machine_lock();
    if (lock_fd_ < 0)
        return fail(Error::Kind::conflict, "another poetryops test node started on this machine");
    POETRYOPS_TRY_VOID(remove_tree(info_.dir));
    fs::create_directories(info_.dir / "logs", ec);
    started_ = true;
    if (ec)
        return fail(Error::Kind::internal,
                    "cannot create " + info_.dir.string() + ": " + ec.message());
    const fs::path d = info_.dir;
    info_.containerd_socket = d / "run" / "containerd.sock";
    POETRYOPS_TRY_VOID(save());

    // Host changes, each recorded before it is made.
    for (const auto& fixed : kFixedPaths) {
        const std::string& p = fixed.first;
        if (!fs::exists(p, ec) && !fs::is_symlink(p, ec)) info_.changes.created_paths.push_back(p);
    }
    for (const auto& s : kSysctls) {
        if (auto v = read_sysctl(s)) info_.changes.sysctls[s] = *v;
    }
    if (std::string iface = route_interface(options.pod_subnet);
        !iface.empty() && iface != options.bridge) {
        return fail(Error::Kind::invalid,
                    "the Pod subnet " + options.pod_subnet + " is already routed to " + iface);
    }
    if (!link_exists(options.bridge)) {
        info_.changes.bridge = options.bridge;  // the CNI plugin creates it with the first Pod
    } else {
        progress(options.progress,
                 "bridge " + options.bridge + " exists already: reused and left in place");
    }
    info_.changes.cgroup_root = options.cgroup_root;
    POETRYOPS_TRY_VOID(save());
    POETRYOPS_TRY_VOID(create_cgroups(options.cgroup_root));
    POETRYOPS_TRY(auto hosts, read_file(kHosts));
    auto addrs = hosts_addresses(hosts, info_.node_name);
    if (std::find(addrs.begin(), addrs.end(), "127.0.0.1") == addrs.end()) {
        if (!addrs.empty()) {
            return fail(Error::Kind::invalid,
                        info_.node_name + " resolves to " + addrs.front() + " in /etc/hosts");
        }
        info_.changes.hosts_line =
            "127.0.0.1 " + info_.node_name + " # poetryops-test-node " + d.string();
        POETRYOPS_TRY_VOID(save());
        if (!append_line(kHosts, info_.changes.hosts_line)) {
            return fail(Error::Kind::internal,
                        std::string("cannot append to /etc/hosts: ") + std::strerror(errno));
        }
    }

    // Images: OCI archives written here, imported once containerd runs.
    auto ti = Clock::now();
    POETRYOPS_TRY(auto pause_files, pause_layer(d / "images" / "pause-src"));
    POETRYOPS_TRY(auto busybox_files, busybox_layer());
    POETRYOPS_TRY(auto built,
                  write_image_archive({{.repository = std::string(kImagePrefix) + "pause",
                                        .tag = "3.9",
                                        .layers = {pause_files},
                                        .entrypoint = {"/pause"},
                                        .env = {}},
                                       {.repository = std::string(kImagePrefix) + "busybox",
                                        .tag = "1.35",
                                        .layers = {busybox_files},
                                        .cmd = {"/bin/sh"}}},
                                      d / "images" / "base.tar"));
    info_.pause_image = built[0].by_tag();
    info_.busybox_image = built[1].by_tag();
    info_.busybox_digest = built[1].digest;
    double images_made = seconds_since(ti);

    POETRYOPS_TRY_VOID(start_containerd());
    progress(options.progress, "containerd up after " + secs(seconds_since(t0)));
    ti = Clock::now();
    POETRYOPS_TRY_VOID(import_images(info_, d / "images" / "base.tar"));
    progress(options.progress, "images " + info_.pause_image + " and " + info_.busybox_image +
                                   " made in " + secs(images_made) + " and imported in " +
                                   secs(seconds_since(ti)));
    POETRYOPS_TRY_VOID(start_kubelet_and_scheduler(cluster));
    POETRYOPS_TRY_VOID(wait_ready(cluster));
    info_.ready = true;
    info_.start_seconds = seconds_since(t0);
    POETRYOPS_TRY_VOID(save());
    progress(options.progress, "node " + info_.node_name + " Ready after " +
                                   secs(info_.start_seconds) + " (" + d.string() + ")");
    return ok();
}

Result<void> Node::start_containerd() {
    const fs::path d = info_.dir;
    std::error_code ec;
    for (const char* sub : {"containerd/root", "containerd/opt", "run/containerd", "run/runc",
                            "cni/net.d", "cni/ipam"}) {
        fs::create_directories(d / sub, ec);
    }
    const std::string sock = info_.containerd_socket.string();
    if (sock.size() + std::strlen(".ttrpc") >= sizeof(sockaddr_un{}.sun_path)) {
        return fail(Error::Kind::invalid,
                    "containerd's socket path " + sock +
                        ".ttrpc is longer than a unix "
                        "socket address allows: use a shorter folder for the node");
    }
    std::string config = R"(version = 2
root = ")" + (d / "containerd/root").string() +
                         R"("
state = ")" + (d / "run/containerd").string() +
                         R"("
oom_score = 0
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
                    "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]
[grpc]
  address = ")" + sock + R"("
  tcp_address = ""
[ttrpc]
  address = ")" + sock + R"(.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins]
  [plugins."io.containerd.internal.v1.opt"]
    path = ")" + (d / "containerd/opt").string() +
                         R"("
  [plugins."io.containerd.grpc.v1.cri"]
    sandbox_image = ")" + info_.pause_image +
                         R"("
    stream_server_address = "127.0.0.1"
    stream_server_port = "0"
    enable_selinux = false
    disable_apparmor = true
    netns_mounts_under_state_dir = true
    # No CAP_SYS_RESOURCE on these machines: a negative oom_score_adj cannot be set, runc would fail every Pod.
    restrict_oom_score_adj = true
    [plugins."io.containerd.grpc.v1.cri".containerd]
      snapshotter = "overlayfs"
      default_runtime_name = "runc"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"
        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
          BinaryName = ")" +
                         find_program("runc") + R"("
          Root = ")" + (d / "run/runc").string() +
                         R"("
          SystemdCgroup = false
    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = "/usr/lib/cni"
      conf_dir = ")" + (d / "cni/net.d").string() +
                         R"("
      max_conf_num = 1
    [plugins."io.containerd.grpc.v1.cri".registry]
      config_path = ""
)";
    POETRYOPS_TRY_VOID(write_file_atomic(d / "containerd/config.toml", config));
    json cni = {
        {"cniVersion", "1.0.0"},
        {"name", "poetryops-test"},
        {"plugins",
         json::array({{{"type", "bridge"},
                       {"bridge", options_.bridge},
                       {"isGateway", true},
                       {"ipMasq", false},
                       {"hairpinMode", true},
                       {"ipam",
                        {{"type", "host-local"},
                         {"dataDir", (d / "cni/ipam").string()},
                         {"ranges", json::array({json::array({{{"subnet", info_.pod_subnet}}})})},
                         {"routes", json::array({{{"dst", "0.0.0.0/0"}}})}}}}})}};
    POETRYOPS_TRY_VOID(
        write_file_atomic(d / "cni/net.d/10-poetryops-bridge.conflist", cni.dump(2) + "\n"));

    const std::string containerd = find_program("containerd");
    POETRYOPS_TRY(auto proc, ChildProcess::spawn(
                                 {containerd, "--config", (d / "containerd/config.toml").string()},
                                 {.env = {{"PATH", kPath}}}, (d / "logs/containerd.log").string()));
    info_.pids.emplace_back(containerd, proc.pid());
    procs_.emplace_back("containerd", std::move(proc));
    POETRYOPS_TRY_VOID(save());
    auto deadline = Clock::now() + std::chrono::seconds(60);
    for (;;) {
        auto v = run_process({"ctr", "--address", info_.containerd_socket.string(), "version"},
                             {.timeout = std::chrono::seconds(5)});
        if (v && v->ok()) return ok();
        if (!procs_.back().second.running()) {
            return fail(Error::Kind::internal, "containerd exited during start; its log ends:\n" +
                                                   tail_of(d / "logs/containerd.log"));
        }
        if (Clock::now() > deadline) {
            return fail(Error::Kind::timeout,
                        "containerd did not answer on " + info_.containerd_socket.string() +
                            " in 60 s; its log ends:\n" + tail_of(d / "logs/containerd.log"));
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
}

Result<void> Node::start_kubelet_and_scheduler(const ClusterInfo& cluster) {
    const fs::path d = info_.dir;
    const fs::path pki = d / "pki";
    const fs::path ca_dir = cluster.dir / "pki";
    const std::string node = info_.node_name;
    std::error_code ec;
    fs::create_directories(pki, ec);
    fs::create_directories(d / "kubelet/root", ec);
    const std::string client =
        "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n"
        "extendedKeyUsage=clientAuth\n";
    const std::string server =
        "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n"
        "extendedKeyUsage=serverAuth\n";
    POETRYOPS_TRY_VOID(
        issue(pki, ca_dir, "kubelet-client", "/O=system:nodes/CN=system:node:" + node, client));
    POETRYOPS_TRY_VOID(issue(pki, ca_dir, "kubelet-serving", "/CN=" + node,
                             server + "subjectAltName=DNS:" + node + ",IP:127.0.0.1\n"));
    POETRYOPS_TRY_VOID(issue(pki, ca_dir, "scheduler-client", "/CN=system:kube-scheduler", client));
    POETRYOPS_TRY_VOID(issue(pki, ca_dir, "scheduler-serving", "/CN=kube-scheduler",
                             server + "subjectAltName=DNS:localhost,IP:127.0.0.1\n"));
    POETRYOPS_TRY_VOID(
        write_file_atomic(d / "kubelet.kubeconfig",
                          kubeconfig(cluster.server, cluster.ca_cert, pki / "kubelet-client.crt",
                                     pki / "kubelet-client.key"),
                          0600));
    POETRYOPS_TRY_VOID(
        write_file_atomic(d / "scheduler.kubeconfig",
                          kubeconfig(cluster.server, cluster.ca_cert, pki / "scheduler-client.crt",
                                     pki / "scheduler-client.key"),
                          0600));

    // The API server authorizes with RBAC only (no Node authorizer): the kubelet gets ClusterRole
    // system:node.
    POETRYOPS_TRY(auto admin, admin_client(cluster.admin_kubeconfig, std::chrono::seconds(10)));
    const std::string binding = "poetryops-test-node-" + node;
    ResourceRef crbs{"rbac.authorization.k8s.io", "v1", "clusterrolebindings", true};
    info_.api_objects.push_back(crbs.named(binding).path());
    info_.api_objects.push_back(ResourceRef("", "v1", "nodes", true).named(node).path());
    POETRYOPS_TRY_VOID(save());
    json crb = {{"apiVersion", "rbac.authorization.k8s.io/v1"},
                {"kind", "ClusterRoleBinding"},
                {"metadata", {{"name", binding}}},
                {"roleRef",
                 {{"apiGroup", "rbac.authorization.k8s.io"},
                  {"kind", "ClusterRole"},
                  {"name", "system:node"}}},
                {"subjects", json::array({{{"apiGroup", "rbac.authorization.k8s.io"},
                                           {"kind", "User"},
                                           {"name", "system:node:" + node}}})}};
    auto created = admin->create(crbs, crb);
    if (!created && !poetryops::kube::is_already_exists(created.error()))
        return fail(std::move(created).error());

    info_.kubelet_port = free_port();
    const int healthz_port = free_port();
    std::error_code rc_ec;
    const bool resolv = fs::exists("/etc/resolv.conf", rc_ec);
    const std::string config =
        "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n"
        "address: 127.0.0.1\nport: " +
        std::to_string(info_.kubelet_port) +
        "\nreadOnlyPort: 0\nhealthzBindAddress: 127.0.0.1\nhealthzPort: " +
        std::to_string(healthz_port) +
        "\nenableServer: true\n"
        // The API server calls the kubelet without a client certificate (logs, exec).
        "authentication:\n  anonymous: {enabled: true}\n  webhook: {enabled: false}\n"
        "  x509: {clientCAFile: " +
        cluster.ca_cert.string() +
        "}\n"
        "authorization: {mode: AlwaysAllow}\n"
        "tlsCertFile: " +
        (pki / "kubelet-serving.crt").string() +
        "\ntlsPrivateKeyFile: " + (pki / "kubelet-serving.key").string() +
        "\nrotateCertificates: false\nserverTLSBootstrap: false\n"
        "containerRuntimeEndpoint: unix://" +
        info_.containerd_socket.string() + "\nimageServiceEndpoint: unix://" +
        info_.containerd_socket.string() + "\ncgroupDriver: cgroupfs\ncgroupRoot: /" +
        options_.cgroup_root +
        "\ncgroupsPerQOS: true\nenforceNodeAllocatable: [\"pods\"]\n"
        "failSwapOn: false\nmakeIPTablesUtilChains: false\nprotectKernelDefaults: false\n"
        // No CAP_SYS_RESOURCE: the kubelet cannot lower its own oom_score_adj.
        "oomScoreAdj: 0\n"
        "resolvConf: \"" +
        std::string(resolv ? "/etc/resolv.conf" : "") +
        "\"\n"
        "maxPods: 60\nserializeImagePulls: false\n"
        "imageGCHighThresholdPercent: 100\nimageGCLowThresholdPercent: 99\n"
        "evictionHard: {memory.available: \"50Mi\", nodefs.available: \"1%\", "
        "nodefs.inodesFree: \"1%\", imagefs.available: \"1%\"}\n"
        "evictionPressureTransitionPeriod: 30s\n";
    POETRYOPS_TRY_VOID(write_file_atomic(d / "kubelet/config.yaml", config));
    const std::string kubelet = (bin_dir() / "kubelet").string();
    POETRYOPS_TRY(auto kp, ChildProcess::spawn(
                               {kubelet, "--config=" + (d / "kubelet/config.yaml").string(),
                                "--kubeconfig=" + (d / "kubelet.kubeconfig").string(),
                                "--root-dir=" + (d / "kubelet/root").string(),
                                "--cert-dir=" + pki.string(), "--hostname-override=" + node,
                                "--pod-infra-container-image=" + info_.pause_image, "--v=1"},
                               {.env = {{"PATH", kPath}}}, (d / "logs/kubelet.log").string()));
    info_.pids.emplace_back(kubelet, kp.pid());
    procs_.emplace_back("kubelet", std::move(kp));
    POETRYOPS_TRY_VOID(save());

    info_.scheduler_port = free_port();
    const std::string sched = (bin_dir() / "kube-scheduler").string();
    const std::string skc = (d / "scheduler.kubeconfig").string();
    POETRYOPS_TRY(
        auto sp,
        ChildProcess::spawn({sched, "--kubeconfig=" + skc, "--authentication-kubeconfig=" + skc,
                             "--authorization-kubeconfig=" + skc, "--bind-address=127.0.0.1",
                             "--secure-port=" + std::to_string(info_.scheduler_port),
                             "--tls-cert-file=" + (pki / "scheduler-serving.crt").string(),
                             "--tls-private-key-file=" + (pki / "scheduler-serving.key").string(),
                             "--leader-elect=false", "--profiling=false", "--v=1"},
                            {}, (d / "logs/kube-scheduler.log").string()));
    info_.pids.emplace_back(sched, sp.pid());
    procs_.emplace_back("kube-scheduler", std::move(sp));
    return save();
}

Result<void> Node::wait_ready(const ClusterInfo& cluster) {
    auto t0 = Clock::now();
    POETRYOPS_TRY(auto admin, admin_client(cluster.admin_kubeconfig, std::chrono::seconds(5)));
    poetryops::kube::KubeConfig sched_cfg;
    sched_cfg.server = "https://127.0.0.1:" + std::to_string(info_.scheduler_port);
    POETRYOPS_TRY(sched_cfg.ca_pem, read_file(cluster.ca_cert));
    POETRYOPS_TRY(auto sched,
                  RestClient::create(sched_cfg, {.request_timeout = std::chrono::seconds(2),
                                                 .connect_timeout = std::chrono::seconds(1)}));
    const ResourceRef node_ref = ResourceRef("", "v1", "nodes", true).named(info_.node_name);
    bool scheduler_ok = false, registered = false;
    std::string last = "not registered";
    auto deadline = Clock::now() + std::chrono::seconds(180);
    for (;;) {
        for (auto& [name, p] : procs_) {
            if (!p.running()) {
                return fail(Error::Kind::internal,
                            name + " exited during start; its log ends:\n" +
                                tail_of(info_.dir / "logs" / (name + ".log")));
            }
        }
        if (!scheduler_ok) {
            auto h = sched->raw("GET", "/healthz");
            if (h && *h == "ok") {
                scheduler_ok = true;
                progress(options_.progress,
                         "kube-scheduler healthy after " + secs(seconds_since(t0)));
            }
        }
        auto n = admin->get(node_ref);
        if (n) {
            if (!registered) {
                registered = true;
                progress(options_.progress, "kubelet registered " + info_.node_name + " after " +
                                                secs(seconds_since(t0)));
            }
            bool ready = false;
            for (const auto& c : n->value("/status/conditions"_json_pointer, json::array())) {
                if (c.value("type", "") == "Ready") {
                    ready = c.value("status", "") == "True";
                    last = "Ready=" + c.value("status", "") + " " + c.value("reason", "") + ": " +
                           c.value("message", "");
                }
            }
            // Schedulable: the node lifecycle controller has removed the not-ready taint.
            std::vector<std::string> taints;
            for (const auto& t : n->value("/spec/taints"_json_pointer, json::array())) {
                taints.push_back(t.value("key", "") + ":" + t.value("effect", ""));
            }
            if (ready && !taints.empty()) last = "Ready, tainted " + str::join(taints, ",");
            if (ready && taints.empty() && scheduler_ok &&
                !n->value("/spec/unschedulable"_json_pointer, false)) {
                return ok();
            }
        }
        if (Clock::now() > deadline) {
            return fail(Error::Kind::timeout, "node " + info_.node_name + " not Ready in 180 s (" +
                                                  last + "); the kubelet's log ends:\n" +
                                                  tail_of(info_.dir / "logs/kubelet.log"));
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
}

void Node::stop() {
    if (!started_) {
        if (lock_fd_ >= 0) ::close(lock_fd_);
        lock_fd_ = -1;
        return;
    }
    started_ = false;
    auto t0 = Clock::now();
    // Peak memory of the node's own processes, before they go.
    for (auto& [name, p] : procs_) {
        if (p.running()) info_.peak_rss_kib[name] = vm_hwm_kib(p.pid());
    }
    // 1. Delete the Pods on the node while the kubelet runs, so it tears them down properly (CNI
    // DEL, unmounts).
    auto kubelet =
        std::find_if(procs_.begin(), procs_.end(), [](auto& e) { return e.first == "kubelet"; });
    if (kubelet != procs_.end() && kubelet->second.running() && !info_.admin_kubeconfig.empty()) {
        if (auto admin = admin_client(info_.admin_kubeconfig, std::chrono::seconds(5))) {
            const ResourceRef pods("", "v1", "pods");
            const std::string selector = "spec.nodeName=" + info_.node_name;
            int deleted = 0;
            // Cordon first (kubectl drain's order): the replacements their controllers make stay
            // Pending.
            (void)(*admin)->patch(ResourceRef("", "v1", "nodes", true).named(info_.node_name),
                                  poetryops::kube::PatchType::merge,
                                  {{"spec", {{"unschedulable", true}}}});
            // Grace 1 s: the kubelet kills a running Pod's containers a second after SIGTERM. (A
            // force delete does not hurry it: with the object gone it falls back to the Pod's own
            // terminationGracePeriodSeconds; a Pod already terminating keeps its grace; what is
            // still running after 20 s is killed below.)
            if (auto list = (*admin)->list(pods, {.field_selector = selector})) {
                for (const auto& p : list->items) {
                    auto ns = p.value("/metadata/namespace"_json_pointer, std::string());
                    auto name = p.value("/metadata/name"_json_pointer, std::string());
                    if ((*admin)->raw(
                            "DELETE", pods.in(ns).named(name).path(),
                            R"({"kind":"DeleteOptions","apiVersion":"v1","gracePeriodSeconds":1})",
                            "application/json")) {
                        ++deleted;
                    }
                }
            }
            // Torn down: the kubelet confirmed the deletions (volumes unmounted, containers gone),
            // no Pod process is left in the node's cgroups and no network namespace (containerd
            // removes one after its CNI DEL).
            const fs::path netns = info_.dir / "run/containerd/io.containerd.grpc.v1.cri/netns";
            auto torn_down = [&] {
                auto left = (*admin)->list(pods, {.field_selector = selector});
                return left && left->items.empty() &&
                       cgroup_procs(info_.changes.cgroup_root).empty() &&
                       mounts_under(netns).empty();
            };
            auto deadline = Clock::now() + std::chrono::seconds(20);
            while (!torn_down() && Clock::now() < deadline && kubelet->second.running()) {
                std::this_thread::sleep_for(std::chrono::milliseconds(200));
            }
            if (deleted > 0) {
                progress(options_.progress,
                         "deleted " + std::to_string(deleted) + " Pod(s) on " + info_.node_name +
                             (torn_down() ? "; the kubelet tore them down in "
                                          : "; the kubelet had not torn them down after ") +
                             secs(seconds_since(t0)));
            }
        }
    }
    // 2. The processes: scheduler, kubelet, containerd.
    while (!procs_.empty()) {
        procs_.back().second.stop(std::chrono::seconds(10));
        procs_.pop_back();
    }
    // 3. Everything else (shims, leftover Pod processes, mounts, host changes, API objects).
    auto report = undo_node(info_);
    for (const auto& l : report.done) progress(options_.progress, l);
    for (const auto& l : report.problems) progress(options_.progress, "LEFT BEHIND: " + l);
    info_.stopped = report.problems.empty();
    info_.ready = false;
    (void)save();
    if (lock_fd_ >= 0) ::close(lock_fd_);
    lock_fd_ = -1;
    progress(options_.progress,
             "node " + info_.node_name + " stopped in " + secs(seconds_since(t0)));
}

// ---- the test process's node ----

Result<const NodeInfo*> shared_node() {
    static std::mutex mu;
    static std::unique_ptr<NodeInfo> info;
    std::lock_guard lock(mu);
    if (info) return info.get();
    std::string file = env_or("POETRYOPS_TEST_KUBE_NODE", POETRYOPS_DEFAULT_KUBE_NODE);
    std::error_code ec;
    if (fs::exists(file, ec)) {
        POETRYOPS_TRY(auto i, read_node_info(file));
        if (i.ready && !i.stopped && i.supervisor_pid > 0 && alive(i.supervisor_pid)) {
            info = std::make_unique<NodeInfo>(std::move(i));
            return info.get();
        }
    }
    std::string why = node_skip_reason();
    if (!why.empty()) {
        if (lane_required())
            return fail(Error::Kind::not_found, why + " (POETRYOPS_REQUIRE_KUBE_LANE=1: failing)");
        return fail(Error::make(Error::Kind::not_found, why, "Skip"));
    }
    // Outside ctest: a node for this process alone, on the process's cluster. The cluster is
    // obtained first so that its owner (a function-local static) outlives the node's.
    POETRYOPS_TRY(const ClusterInfo* cluster, shared_cluster());
    struct Owned {
        Node node;
        fs::path dir;
        ~Owned() {
            node.stop();
            (void)remove_tree(dir);
        }
    };
    static std::unique_ptr<Owned> own;
    std::fprintf(stderr, "kube node: no running node at %s; starting one for this test process\n",
                 file.c_str());
    own = std::make_unique<Owned>();
    own->dir = fs::temp_directory_path() / ("poetryops-node-" + std::to_string(::getpid()));
    auto started = own->node.start(own->dir, *cluster, {.progress = stderr});
    if (!started) {
        own.reset();
        return fail(std::move(started).error());
    }
    info = std::make_unique<NodeInfo>(own->node.info());
    return info.get();
}

}  // namespace poetryops::test::kube
