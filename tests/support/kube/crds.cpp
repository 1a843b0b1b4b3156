#include "support/kube/crds.hpp"

#include <poetryops/api/codec.hpp>
#include <poetryops/kube/resource.hpp>
#include <poetryops/util/fs.hpp>

#include <algorithm>
#include <cstdlib>
#include <thread>

namespace poetryops::test::kube {
namespace fs = std::filesystem;
namespace k = poetryops::kube;

namespace {

bool established(const nlohmann::json& crd) {
    auto conds = crd.value("/status/conditions"_json_pointer, nlohmann::json::array());
    return std::any_of(conds.begin(), conds.end(), [](const nlohmann::json& c) {
        return c.value("type", "") == "Established" && c.value("status", "") == "True";
    });
}

}  // namespace

Result<std::vector<std::string>> apply_crds(k::KubeClient& client,
                                            const std::vector<fs::path>& files,
                                            std::chrono::seconds timeout) {
    std::vector<std::string> names;
    for (const auto& file : files) {
        POETRYOPS_TRY(auto text, read_file(file));
        POETRYOPS_TRY(auto docs, api::yaml_to_json(text, file.filename().string()));
        for (auto& doc : docs) {
            if (doc.value("kind", "") != "CustomResourceDefinition") continue;
            std::string name = doc["metadata"].value("name", "");
            doc["metadata"].erase("creationTimestamp");
            doc.erase("status");
            auto applied =
                client.apply(k::resources::crds().named(name), doc, "poetryops-tests", true);
            if (!applied) {
                return fail(Error::make(
                    applied.error().kind,
                    file.string() + ": CRD " + name + " refused: " + applied.error().message,
                    applied.error().reason));
            }
            names.push_back(name);
        }
    }
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (const auto& name : names) {
        for (;;) {
            auto crd = client.get(k::resources::crds().named(name));
            if (crd && established(*crd)) break;
            if (std::chrono::steady_clock::now() > deadline) {
                return fail(Error::Kind::timeout, "CRD " + name + " not Established after " +
                                                      std::to_string(timeout.count()) + " s");
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
    }
    return names;
}

std::vector<fs::path> yaml_files(const fs::path& dir) {
    std::vector<fs::path> out;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec)) {
        if (e.path().extension() == ".yaml" || e.path().extension() == ".yml")
            out.push_back(e.path());
    }
    std::sort(out.begin(), out.end());
    return out;
}

fs::path shared_crds_dir(const fs::path& source_dir) {
    std::error_code ec;
    if (const char* v = std::getenv("POETRYOPS_SHARED_K8S_CRDS"); v != nullptr && *v != '\0') {
        return fs::exists(v, ec) ? fs::path(v) : fs::path();
    }
    fs::path p = source_dir / ".." / "shared" / "k8s" / "crds";
    return fs::exists(p, ec) ? fs::weakly_canonical(p, ec) : fs::path();
}

}  // namespace poetryops::test::kube
