// Credentials from Secrets (controller/kube_ports): what each Secret shape gives, and that every
// refusal names the Secret and the key without a secret value. The Kubernetes API is a map of
// Secrets behind the KubeClient seam: this tests parsing, not a server (the real lane reads real
// Secrets in cluster_promotion_it_test.cpp).
#include <poetryops/controller/kube_ports.hpp>

#include <poetryops/api/codec.hpp>
#include <poetryops/kube/status.hpp>
#include <poetryops/util/fs.hpp>
#include <poetryops/util/strings.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <map>

using namespace poetryops;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

/// Secrets by "namespace/name"; everything else is unsupported.
class SecretMap final : public kube::KubeClient {
public:
    std::map<std::string, json> secrets;
    Result<json> get(const kube::ResourceRef& ref) override {
        auto it = secrets.find(ref.namespace_ + "/" + ref.name);
        if (it == secrets.end()) {
            return fail(Error::make(Error::Kind::not_found,
                                    "secrets \"" + ref.name + "\" not found", "NotFound"));
        }
        return it->second;
    }
    Result<kube::ObjectList> list(const kube::ResourceRef&, const kube::ListOptions&) override {
        return unsupported();
    }
    Result<json> create(const kube::ResourceRef&, const json&) override { return unsupported(); }
    Result<json> update(const kube::ResourceRef&, const json&) override { return unsupported(); }
    Result<json> patch(const kube::ResourceRef&, kube::PatchType, const json&,
                       const kube::PatchOptions&) override {
        return unsupported();
    }
    Result<void> remove(const kube::ResourceRef&, const kube::DeleteOptions&) override {
        return unsupported();
    }
    Result<std::unique_ptr<kube::WatchStream>> watch(const kube::ResourceRef&,
                                                     const kube::WatchOptions&) override {
        return unsupported();
    }

private:
    static Unexpected unsupported() {
        return fail(Error::Kind::internal, "not used by SecretCredentials");
    }
};

json secret(const std::string& name, const std::map<std::string, std::string>& data,
            const std::string& rv = "7") {
    json d = json::object();
    for (const auto& [k, v] : data) d[k] = str::base64_encode(v);
    return {{"apiVersion", "v1"},
            {"kind", "Secret"},
            {"metadata", {{"name", name}, {"namespace", "team-a"}, {"resourceVersion", rv}}},
            {"data", d}};
}

api::PoetryApp app(const std::string& gitops_url, const std::string& git_secret,
                   const std::string& image_secret = {}) {
    json gitops = {{"repoURL", gitops_url}};
    if (!git_secret.empty()) gitops["secretRef"] = {{"name", git_secret}};
    json image = {{"repository", "registry.example.com/acme/billing"}};
    if (!image_secret.empty()) image["secretRef"] = {{"name", image_secret}};
    json o = {{"apiVersion", "poetryops.io/v1alpha1"},
              {"kind", "PoetryApp"},
              {"metadata", {{"name", "billing"}, {"namespace", "team-a"}}},
              {"spec",
               {{"image", image},
                {"gitops", gitops},
                {"environments", json::array({{{"name", "dev"}, {"path", "envs/dev"}}})}}}};
    auto a = api::load_poetryapp(o);
    EXPECT_TRUE(a) << a.error().message;
    return a ? *a : api::PoetryApp{};
}

unsigned mode_of(const fs::path& p) {
    struct stat st {};
    return ::stat(p.c_str(), &st) == 0 ? (st.st_mode & 0777) : 0;
}

class SecretCredentialsTest : public ::testing::Test {
protected:
    SecretMap api_;
    TempDir dir_{"secret-creds"};
    controller::SecretCredentials creds_{api_, dir_.path() / "private"};
};

}  // namespace

TEST_F(SecretCredentialsTest, HttpsUsernameAndPasswordOrToken) {
    api_.secrets["team-a/push"] = secret("push", {{"username", "ci"}, {"password", "s3cret"}});
    auto r = creds_.git_remote(app("https://git.example.com/acme/deploy.git", "push"));
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->username, "ci");
    EXPECT_EQ(r->password, "s3cret");
    EXPECT_TRUE(r->ssh_key.empty());

    api_.secrets["team-a/token"] = secret("token", {{"token", "ghp_tok"}});
    auto t = creds_.git_remote(app("https://git.example.com/acme/deploy.git", "token"));
    ASSERT_TRUE(t) << t.error().message;
    EXPECT_EQ(t->password, "ghp_tok");
}

TEST_F(SecretCredentialsTest, NoSecretRefMeansNoCredentials) {
    auto r = creds_.git_remote(app("https://git.example.com/acme/deploy.git", ""));
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_TRUE(r->password.empty());
    auto d = creds_.docker_config(app("https://git.example.com/acme/deploy.git", ""));
    ASSERT_TRUE(d);
    EXPECT_TRUE(d->first.empty());
}

TEST_F(SecretCredentialsTest, SshKeyAndKnownHostsAreWrittenPrivately) {
    api_.secrets["team-a/ssh"] =
        secret("ssh", {{"ssh-privatekey", "-----BEGIN OPENSSH PRIVATE KEY-----\nk\n"},
                       {"known_hosts", "git.example.com ssh-ed25519 AAAA\n"}});
    auto r = creds_.git_remote(app("ssh://git@git.example.com/acme/deploy.git", "ssh"));
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(read_file(r->ssh_key).value_or(""), "-----BEGIN OPENSSH PRIVATE KEY-----\nk\n");
    EXPECT_EQ(read_file(r->known_hosts).value_or(""), "git.example.com ssh-ed25519 AAAA\n");
    EXPECT_EQ(mode_of(r->ssh_key), 0600u);
    EXPECT_EQ(mode_of(dir_.path() / "private"), 0700u);
    // Flux's key name, and the scp-like URL form.
    api_.secrets["team-a/flux"] = secret("flux", {{"identity", "KEY"}, {"known_hosts", "KH"}});
    auto f = creds_.git_remote(app("git@git.example.com:acme/deploy.git", "flux"));
    ASSERT_TRUE(f) << f.error().message;
    EXPECT_EQ(read_file(f->ssh_key).value_or(""), "KEY");
}

TEST_F(SecretCredentialsTest, SshWithoutKnownHostsIsRefusedNamingTheKeyNotTheValue) {
    api_.secrets["team-a/ssh"] = secret("ssh", {{"ssh-privatekey", "PRIVATE-KEY-MATERIAL"}});
    auto r = creds_.git_remote(app("ssh://git@git.example.com/acme/deploy.git", "ssh"));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().reason, "SecretIncomplete");
    EXPECT_THAT(
        r.error().message,
        testing::HasSubstr("spec.gitops.secretRef: Secret team-a/ssh has no data key known_hosts"));
    EXPECT_EQ(r.error().message.find("PRIVATE-KEY-MATERIAL"), std::string::npos);
    api_.secrets["team-a/nokey"] = secret("nokey", {{"known_hosts", "KH"}});
    auto k = creds_.git_remote(app("ssh://git@git.example.com/acme/deploy.git", "nokey"));
    ASSERT_FALSE(k);
    EXPECT_THAT(k.error().message, testing::HasSubstr("has no data key ssh-privatekey"));
}

TEST_F(SecretCredentialsTest, CaCertBecomesTheRemotesCaFile) {
    api_.secrets["team-a/ca"] =
        secret("ca", {{"username", "u"}, {"password", "p"}, {"ca.crt", "-----BEGIN CERT-----\n"}});
    auto r = creds_.git_remote(app("https://git.example.com/acme/deploy.git", "ca"));
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(read_file(r->ca_file).value_or(""), "-----BEGIN CERT-----\n");
}

TEST_F(SecretCredentialsTest, AMissingSecretNamesTheFieldAndTheSecret) {
    auto r = creds_.git_remote(app("https://git.example.com/acme/deploy.git", "absent"));
    ASSERT_FALSE(r);
    EXPECT_TRUE(kube::is_not_found(r.error())) << r.error().message;
    EXPECT_THAT(r.error().message,
                testing::StartsWith("spec.gitops.secretRef: Secret team-a/absent: "));
}

TEST_F(SecretCredentialsTest, DockerConfigJsonAndLegacyDockercfg) {
    std::string auth = str::base64_encode("robot:pw");
    api_.secrets["team-a/reg"] = secret(
        "reg",
        {{".dockerconfigjson", R"({"auths":{"registry.example.com":{"auth":")" + auth + R"("}}})"}},
        "42");
    auto d = creds_.docker_config(app("https://git.example.com/d.git", "", "reg"));
    ASSERT_TRUE(d) << d.error().message;
    EXPECT_EQ(d->second, "42") << "the Secret's resourceVersion, to cache clients per version";
    auto c = d->first.find("registry.example.com");
    ASSERT_TRUE(c);
    EXPECT_EQ(c->username, "robot");
    EXPECT_EQ(c->password, "pw");

    api_.secrets["team-a/legacy"] = secret(
        "legacy", {{".dockercfg", R"({"registry.example.com":{"auth":")" + auth + R"("}})"}});
    auto l = creds_.docker_config(app("https://git.example.com/d.git", "", "legacy"));
    ASSERT_TRUE(l) << l.error().message;
    EXPECT_TRUE(l->first.find("registry.example.com"));
}

TEST_F(SecretCredentialsTest, ABadDockerSecretIsRefusedWithoutEchoingIt) {
    api_.secrets["team-a/empty"] = secret("empty", {{"username", "u"}});
    auto e = creds_.docker_config(app("https://git.example.com/d.git", "", "empty"));
    ASSERT_FALSE(e);
    EXPECT_THAT(
        e.error().message,
        testing::HasSubstr("Secret team-a/empty has no .dockerconfigjson or .dockercfg key"));
    api_.secrets["team-a/garbage"] =
        secret("garbage", {{".dockerconfigjson", "{not json TOPSECRET"}});
    auto g = creds_.docker_config(app("https://git.example.com/d.git", "", "garbage"));
    ASSERT_FALSE(g);
    EXPECT_THAT(g.error().message, testing::HasSubstr("Secret team-a/garbage"));
    EXPECT_EQ(g.error().message.find("TOPSECRET"), std::string::npos) << g.error().message;
}

TEST(SecretValue, DecodesBase64AndRejectsTheRest) {
    json s = {{"data", {{"ok", str::base64_encode("v")}, {"bad", "%%%"}, {"num", 3}}}};
    EXPECT_EQ(controller::secret_value(s, "ok"), "v");
    EXPECT_EQ(controller::secret_value(s, "bad"), std::nullopt);
    EXPECT_EQ(controller::secret_value(s, "num"), std::nullopt);
    EXPECT_EQ(controller::secret_value(s, "absent"), std::nullopt);
    EXPECT_EQ(controller::secret_value(json::object(), "ok"), std::nullopt);
}
