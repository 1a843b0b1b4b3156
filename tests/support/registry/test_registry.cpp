#include "support/registry/test_registry.hpp"

#include <poetryops/registry/layout.hpp>
#include <poetryops/registry/reference.hpp>
#include <poetryops/util/strings.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace poetryops::test {
namespace fs = std::filesystem;

std::unique_ptr<TestRegistry> TestRegistry::start(TestRegistryOptions options) {
    if (!require_tools({"docker-registry", "skopeo", "umoci", "htpasswd"})) return nullptr;
    std::unique_ptr<TestRegistry> r(new TestRegistry());
    r->options_ = options;
    r->port_ = free_port();
    auto d = r->dir_.path().string();
    fs::create_directories(r->cert_dir());
    std::string yaml =
        "version: 0.1\nlog: {level: info}\nstorage: {filesystem: {rootdirectory: " + d +
        "/data}, delete: {enabled: true}}\n";
    yaml += "http:\n  addr: 127.0.0.1:" + std::to_string(r->port_) + "\n  secret: ci\n";
    if (options.tls) {
        if (!options.ca) {
            ADD_FAILURE() << "TestRegistry: tls needs a TestCa";
            return nullptr;
        }
        auto [crt, key] = options.ca->issue("registry", {"DNS:localhost", "IP:127.0.0.1"});
        yaml += "  tls: {certificate: " + crt.string() + ", key: " + key.string() + "}\n";
        fs::copy_file(options.ca->ca_cert(), r->cert_dir() / "ca.crt");
    }
    if (!options.user.empty()) {
        // -i: the password from stdin, not argv (other tests scan every process's command line for
        // secrets).
        ProcessOptions po;
        po.stdin_data = options.password + "\n";
        must_run({"htpasswd", "-Bci", d + "/htpasswd", options.user}, po);
        yaml += "auth: {htpasswd: {realm: ci, path: " + d + "/htpasswd}}\n";
    } else if (options.token) {
        const auto& t = *options.token;
        yaml += "auth: {token: {realm: \"" + t.realm + "\", service: " + t.service +
                ", issuer: " + t.issuer + ", rootcertbundle: " + t.rootcertbundle.string() + "}}\n";
    }
    if (!options.notify_url.empty()) {
        yaml +=
            "notifications:\n  events: {includereferences: true}\n  endpoints:\n"
            "    - name: poetryops\n      url: \"" +
            options.notify_url +
            "\"\n"
            "      headers: {Authorization: [\"Bearer " +
            options.notify_token +
            "\"]}\n"
            "      timeout: 2s\n      threshold: 3\n      backoff: 1s\n"
            "      ignoredmediatypes: [application/octet-stream]\n";
    }
    if (!write_file_atomic(r->dir_.path() / "config.yml", yaml)) {
        ADD_FAILURE() << "TestRegistry: cannot write config";
        return nullptr;
    }
    auto child = ChildProcess::spawn({"docker-registry", "serve", d + "/config.yml"}, {},
                                     d + "/registry.log");
    if (!child) {
        ADD_FAILURE() << "TestRegistry: " << child.error().message;
        return nullptr;
    }
    r->process_ = std::move(child).value();
    int port = r->port_;
    if (!wait_until([port] { return port_open(port); }, std::chrono::seconds(20))) {
        ADD_FAILURE() << "docker-registry did not start:\n" << r->log();
        return nullptr;
    }
    return r;
}

TestRegistry::~TestRegistry() {
    if (process_.pid() > 0) process_.stop(std::chrono::seconds(3));
}

std::string TestRegistry::log() const {
    auto text = read_file(dir_.path() / "registry.log");
    return text ? *text : std::string("(no log)");
}

std::vector<std::string> TestRegistry::skopeo_dest_flags(const std::string& creds) const {
    std::vector<std::string> flags;
    if (options_.tls) {
        flags = {"--dest-cert-dir", cert_dir().string()};
    } else {
        flags = {"--dest-tls-verify=false"};
    }
    if (!creds.empty()) {
        flags.push_back("--dest-creds");
        flags.push_back(creds);
    } else if (!options_.user.empty()) {
        flags.push_back("--dest-creds");
        flags.push_back(options_.user + ":" + options_.password);
    } else if (options_.token && !options_.token->push_credentials.empty()) {
        flags.push_back("--dest-creds");
        flags.push_back(options_.token->push_credentials);
    }
    return flags;
}

std::string TestRegistry::build_layout(const std::string& name, const std::string& content,
                                       const std::string& arch) {
    auto layout = (dir_.path() / "layouts" / name).string();
    auto file = (dir_.path() / "layouts" / (name + ".txt")).string();
    fs::create_directories(dir_.path() / "layouts");
    if (!fs::exists(layout)) must_run({"umoci", "init", "--layout", layout});
    if (!write_file_atomic(file, content)) ADD_FAILURE() << "cannot write " << file;
    must_run({"umoci", "new", "--image", layout + ":" + arch});
    must_run({"umoci", "config", "--image", layout + ":" + arch, "--architecture", arch, "--os",
              "linux"});
    must_run({"umoci", "insert", "--image", layout + ":" + arch, file, "/content.txt"});
    return layout;
}

std::string TestRegistry::copy_to_registry(const std::string& src, const std::string& repo,
                                           const std::string& tag, std::vector<std::string> extra) {
    auto digest_file = (dir_.path() / "digest").string();
    std::vector<std::string> argv = {"skopeo",  "--insecure-policy", "copy",
                                     "--quiet", "--digestfile",      digest_file};
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto flags = skopeo_dest_flags();
    argv.insert(argv.end(), flags.begin(), flags.end());
    argv.push_back(src);
    argv.push_back("docker://" + host() + "/" + repo + ":" + tag);
    auto r = must_run(argv);
    if (!r.ok()) return {};
    auto digest = read_file(digest_file);
    return digest ? std::string(str::trim(*digest)) : std::string();
}

std::string TestRegistry::push_image(const std::string& repo, const std::string& tag,
                                     const std::string& content, Format format) {
    static int n = 0;
    auto layout = build_layout("img" + std::to_string(++n), content);
    std::vector<std::string> extra;
    if (format == Format::docker_v2s2) extra = {"--format", "v2s2"};
    return copy_to_registry("oci:" + layout + ":amd64", repo, tag, extra);
}

std::string TestRegistry::push_index(const std::string& repo, const std::string& tag) {
    static int n = 0;
    auto name = "multi" + std::to_string(++n);
    build_layout(name, "amd64 " + name, "amd64");
    auto layout = build_layout(name, "arm64 " + name, "arm64");
    // Write the index into the layout with the project's own layout backend.
    registry::LayoutRegistry reg(layout);
    registry::Reference any;
    any.registry = "oci";
    any.repository = layout;
    nlohmann::json index = {{"schemaVersion", 2},
                            {"mediaType", registry::media::oci_index},
                            {"manifests", nlohmann::json::array()}};
    for (std::string arch : {"amd64", "arm64"}) {
        auto ref = any;
        ref.tag = arch;
        auto m = reg.get_manifest(ref);
        if (!m) {
            ADD_FAILURE() << m.error().message;
            return {};
        }
        index["manifests"].push_back({{"mediaType", m->media_type},
                                      {"digest", m->digest},
                                      {"size", m->bytes.size()},
                                      {"platform", {{"architecture", arch}, {"os", "linux"}}}});
    }
    auto put = reg.put_manifest(any, "index", index.dump(), registry::media::oci_index);
    if (!put) {
        ADD_FAILURE() << put.error().message;
        return {};
    }
    return copy_to_registry("oci:" + layout + ":index", repo, tag, {"--all", "--preserve-digests"});
}

std::string push_layout_image(registry::LayoutRegistry& layout, const std::string& repository,
                              const std::string& tag, const std::string& seed) {
    auto repo = registry::parse_repository(repository);
    EXPECT_TRUE(repo) << repository;
    if (!repo) return "";
    auto config = layout.put_blob(*repo, R"({"seed":")" + seed + R"("})");
    EXPECT_TRUE(config);
    if (!config) return "";
    nlohmann::json m = {{"schemaVersion", 2},
                        {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                        {"config",
                         {{"mediaType", "application/vnd.oci.image.config.v1+json"},
                          {"digest", *config},
                          {"size", 13 + seed.size()}}},
                        {"layers", nlohmann::json::array()}};
    auto d =
        layout.put_manifest(*repo, tag, m.dump(), "application/vnd.oci.image.manifest.v1+json");
    EXPECT_TRUE(d) << (d ? "" : d.error().message);
    return d ? d->digest : "";
}

}  // namespace poetryops::test
