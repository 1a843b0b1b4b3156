#include "support/helm/helm.hpp"

#include "support/kube/cluster.hpp"
#include "support/support.hpp"

#include <poetryops/api/codec.hpp>
#include <poetryops/util/fs.hpp>

#include <gtest/gtest.h>

#include <unistd.h>
#include <algorithm>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <regex>
#include <sstream>

namespace poetryops::test::helm {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string env(const char* name) {
    const char* v = std::getenv(name);
    return v ? v : "";
}

/// Where helm(.xz) is: POETRYOPS_K8S_BIN_DIR, else ../shared/k8s/bin beside the source tree.
fs::path source_folder() {
    std::string dir = env("POETRYOPS_K8S_BIN_DIR");
    return dir.empty() ? source_dir().parent_path() / "shared/k8s/bin" : fs::path(dir);
}

struct Unpacked {
    TempDir dir{"poetryops-helm"};  // Helm's homes
    fs::path helm;
    std::string error;  // why there is no helm
};

/// Unpacks `xz` once per build tree: into POETRYOPS_TEST_HELM_CACHE as helm-SIZE-MTIME, through a
/// file of this process renamed into place, so the ctest processes running at once neither
/// unpack it each (~3 s) nor see half a file.
Result<fs::path> unpack(const fs::path& xz) {
    std::error_code ec;
    auto size = fs::file_size(xz, ec);
    auto mtime = fs::last_write_time(xz, ec).time_since_epoch().count();
    if (ec) return fail(Error::Kind::internal, xz.string() + ": " + ec.message());
    fs::path cache = POETRYOPS_TEST_HELM_CACHE;
    fs::path dest = cache / ("helm-" + std::to_string(size) + "-" + std::to_string(mtime));
    if (fs::exists(dest, ec)) return dest;
    fs::create_directories(cache, ec);
    fs::path mine = cache / ("helm.unpacking." + std::to_string(::getpid()));
    fs::copy_file(xz, mine.string() + ".xz", fs::copy_options::overwrite_existing, ec);
    if (ec) return fail(Error::Kind::internal, "cannot copy " + xz.string() + ": " + ec.message());
    POETRYOPS_TRY(ProcessResult r, run_process({"xz", "-d", "-f", mine.string() + ".xz"}));
    if (!r.ok()) return fail(Error::Kind::internal, "cannot unpack " + xz.string() + ": " + r.err);
    fs::permissions(mine, fs::perms::owner_all, fs::perm_options::add, ec);
    fs::rename(mine, dest, ec);
    if (ec) return fail(Error::Kind::internal, "cannot move helm to " + dest.string());
    return dest;
}

const Unpacked& unpacked() {
    static std::once_flag once;
    static std::unique_ptr<Unpacked> u;
    std::call_once(once, [] {
        u = std::make_unique<Unpacked>();
        fs::path src = source_folder();
        std::error_code ec;
        if (fs::exists(src / "helm.xz", ec)) {
            auto h = unpack(src / "helm.xz");
            if (h)
                u->helm = *h;
            else
                u->error = h.error().message;
        } else if (fs::exists(src / "helm", ec)) {
            u->helm = src / "helm";
        } else {
            u->error = "Helm chart tests skipped: no helm.xz or helm in " + src.string() +
                       "; set POETRYOPS_K8S_BIN_DIR to the folder of ../shared/k8s/bin to run them";
        }
    });
    return *u;
}

}  // namespace

Result<fs::path> binary() {
    const Unpacked& u = unpacked();
    if (!u.helm.empty()) return u.helm;
    if (kube::lane_required())
        return fail(Error::Kind::not_found, u.error + " (POETRYOPS_REQUIRE_KUBE_LANE=1: failing)");
    return fail(Error::make(Error::Kind::not_found, u.error, "Skip"));
}

Result<ProcessResult> run(const std::vector<std::string>& args, const fs::path& kubeconfig) {
    POETRYOPS_TRY(fs::path helm, binary());
    const fs::path home = unpacked().dir.path() / "home";
    std::vector<std::string> argv{helm.string()};
    argv.insert(argv.end(), args.begin(), args.end());
    if (!kubeconfig.empty()) argv.insert(argv.end(), {"--kubeconfig", kubeconfig.string()});
    ProcessOptions o;
    o.inherit_env = false;
    o.env = {{"PATH", "/usr/bin:/bin"},
             {"HOME", home.string()},
             {"HELM_CACHE_HOME", (home / "cache").string()},
             {"HELM_CONFIG_HOME", (home / "config").string()},
             {"HELM_DATA_HOME", (home / "data").string()}};
    o.timeout = std::chrono::minutes(2);
    return run_process(argv, o);
}

fs::path chart_dir() { return source_dir() / "charts/poetryops"; }

void Releases::uninstall() {
    while (!installed_.empty()) {
        auto [release, ns] = installed_.back();
        installed_.pop_back();
        auto r = run({"uninstall", release, "--namespace", ns}, kubeconfig_);
        if (!r)
            ADD_FAILURE() << "helm uninstall " << release << ": " << r.error().message;
        else if (!r->ok())
            ADD_FAILURE() << "helm uninstall " << release << ": " << r->err;
    }
}

Result<ProcessResult> Releases::install(const std::string& release, const std::string& ns,
                                        const std::vector<std::string>& sets,
                                        const std::vector<std::string>& extra) {
    std::vector<std::string> argv{"install", release, chart_dir().string(), "--namespace", ns};
    for (const auto& s : sets) argv.insert(argv.end(), {"--set", s});
    argv.insert(argv.end(), extra.begin(), extra.end());
    POETRYOPS_TRY(ProcessResult r, run(argv, kubeconfig_));
    if (r.ok()) installed_.emplace_back(release, ns);
    return r;
}

Result<std::vector<json>> render(const std::vector<std::string>& args, const std::string& release,
                                 const std::string& ns) {
    std::vector<std::string> argv{"template", release, chart_dir().string(), "--namespace", ns};
    argv.insert(argv.end(), args.begin(), args.end());
    POETRYOPS_TRY(ProcessResult r, run(argv));
    if (!r.ok()) return fail(Error::Kind::invalid, r.err.empty() ? r.out : r.err);
    POETRYOPS_TRY(std::vector<json> docs, api::yaml_to_json(r.out, "helm template"));
    std::vector<json> objs;
    for (auto& d : docs)
        if (d.is_object() && !d.empty()) objs.push_back(std::move(d));
    return objs;
}

std::vector<json> objects(const std::vector<json>& all, const std::string& kind,
                          const std::string& name) {
    std::vector<json> out;
    for (const auto& o : all) {
        if (o.value("kind", "") != kind) continue;
        if (!name.empty() && o.value("/metadata/name"_json_pointer, std::string()) != name)
            continue;
        out.push_back(o);
    }
    return out;
}

std::string Permission::str() const {
    return (group.empty() ? std::string("core") : group) + " " + resource + " " + verb;
}

std::vector<Permission> permissions(const json& rules) {
    std::vector<Permission> out;
    if (!rules.is_array()) return out;
    for (const auto& r : rules)
        for (const auto& g : r.value("apiGroups", json::array()))
            for (const auto& res : r.value("resources", json::array()))
                for (const auto& v : r.value("verbs", json::array()))
                    out.push_back(
                        {g.get<std::string>(), res.get<std::string>(), v.get<std::string>()});
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

std::vector<Permission> documented_permissions() {
    // The same reading as tests/controller/cluster_promotion_it_test.cpp: a row's resources take
    // its verb groups (";"-separated) in order, or all of them the one group; a "x/sub" resource
    // takes the group of the resource before it.
    auto text = read_file(source_dir() / "docs/operations.md");
    std::vector<Permission> out;
    std::istringstream in(text ? *text : "");
    bool in_table = false;
    for (std::string line; std::getline(in, line);) {
        if (line.rfind("### Permissions it needs", 0) == 0) {
            in_table = true;
            continue;
        }
        if (!in_table) continue;
        if (line.rfind("###", 0) == 0) break;
        if (line.rfind("| `", 0) != 0) continue;
        std::vector<std::string> cells;
        for (std::size_t pos = 1; pos < line.size();) {
            auto bar = line.find('|', pos);
            if (bar == std::string::npos) break;
            cells.push_back(line.substr(pos, bar - pos));
            pos = bar + 1;
        }
        if (cells.size() < 2) continue;
        std::vector<std::pair<std::string, std::string>> res;  // group, resource
        std::regex tick("`([^`]+)`");
        for (std::sregex_iterator it(cells[0].begin(), cells[0].end(), tick), end; it != end;
             ++it) {
            std::string name = (*it)[1];
            auto dot = name.find('.');
            if (dot == std::string::npos) {
                bool sub = name.find('/') != std::string::npos;
                res.emplace_back(sub && !res.empty() ? res.back().first : "", name);
            } else {
                res.emplace_back(name.substr(dot + 1), name.substr(0, dot));
            }
        }
        std::vector<std::vector<std::string>> groups;
        std::istringstream vs(cells[1]);
        for (std::string g; std::getline(vs, g, ';');) {
            std::vector<std::string> verbs;
            std::istringstream gs(g);
            for (std::string v; std::getline(gs, v, ',');) {
                v.erase(0, v.find_first_not_of(' '));
                v.erase(v.find_last_not_of(' ') + 1);
                if (!v.empty()) verbs.push_back(v);
            }
            groups.push_back(verbs);
        }
        for (std::size_t i = 0; i < res.size(); ++i) {
            const auto& verbs = groups.size() == res.size() ? groups[i] : groups.front();
            for (const auto& v : verbs) out.push_back({res[i].first, res[i].second, v});
        }
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

}  // namespace poetryops::test::helm
