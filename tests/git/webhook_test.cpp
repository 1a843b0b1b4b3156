// Source push webhooks of GitHub, GitLab and Gitea/Forgejo (payload shapes from each forge's
// documentation, trimmed, in testdata/webhooks/), their authentication, and repository URL
// matching.
#include <poetryops/git/webhook.hpp>

#include <poetryops/git/remote.hpp>
#include <poetryops/util/crypto.hpp>
#include <poetryops/util/fs.hpp>

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "support/support.hpp"

namespace poetryops::git {
namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;

const std::string kSecret = "It's a Secret to Everybody";

std::string payload(const std::string& name) {
    return read_file(test::source_dir() / "tests" / "git" / "testdata" / "webhooks" / name, 1 << 20)
        .value();
}

SourceWebhookConfig config() { return {.secret = kSecret}; }

Headers github(const std::string& body, const std::string& event = "push") {
    return {{"Content-Type", "application/json"},
            {"X-GitHub-Event", event},
            {"X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958"},
            {"X-Hub-Signature-256", "sha256=" + crypto::hmac_sha256_hex(kSecret, body)}};
}
Headers gitlab(const std::string& event = "Push Hook") {
    return {{"X-Gitlab-Event", event},
            {"X-Gitlab-Token", kSecret},
            {"X-Gitlab-Event-UUID", "13792a34-cac6-4fda-95a8-c58e00a3954e"}};
}
Headers gitea(const std::string& body) {
    // What Gitea sends: its own headers and GitHub's and Gogs' for compatibility.
    return {{"X-GitHub-Event", "push"},
            {"X-Gogs-Event", "push"},
            {"X-Gitea-Event", "push"},
            {"X-Gitea-Delivery", "f6266f16-1bf3-46a5-9ea4-602e06ead473"},
            {"X-Gitea-Signature", crypto::hmac_sha256_hex(kSecret, body)}};
}

TEST(Crypto, HmacSha256MatchesTheRfc4231Vector) {
    // RFC 4231 test case 2.
    EXPECT_EQ(crypto::hmac_sha256_hex("Jefe", "what do ya want for nothing?"),
              "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    EXPECT_TRUE(crypto::constant_time_equal("abc", "abc"));
    EXPECT_FALSE(crypto::constant_time_equal("abc", "abd"));
    EXPECT_FALSE(crypto::constant_time_equal("abc", "abcd"));
}

TEST(SourceWebhook, GithubPush) {
    std::string body = payload("github-push.json");
    auto r = parse_source_webhook(github(body), body, config());
    ASSERT_TRUE(r.has_value()) << r.error().message;
    EXPECT_EQ(r->forge, Forge::github);
    EXPECT_EQ(r->delivery, "72d3162e-cc78-11e3-81ab-4c9367dc0958");
    ASSERT_TRUE(r->push);
    const PushEvent& e = *r->push;
    EXPECT_EQ(e.ref, "refs/heads/main");
    EXPECT_EQ(e.branch(), "main");
    EXPECT_FALSE(e.is_tag());
    EXPECT_EQ(e.before, "6113728f27ae82c7b1a177c8d03f9e96e0adf246");
    EXPECT_EQ(e.after, "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c");
    EXPECT_FALSE(e.deleted);
    EXPECT_FALSE(e.created);
    EXPECT_EQ(e.repo_urls,
              (std::vector<std::string>{
                  "https://github.com/Acme-Corp/shop.git", "git@github.com:Acme-Corp/shop.git",
                  "https://github.com/Acme-Corp/shop", "git://github.com/Acme-Corp/shop.git"}));
    EXPECT_EQ(e.changed_paths, (std::vector<std::string>{"README.md", "docs/old.md",
                                                         "services/billing/billing/charge.py",
                                                         "services/billing/billing/retry.py"}));
    EXPECT_TRUE(e.paths_complete);
    // Every spelling of the repository matches.
    for (const char* url : {"https://github.com/acme-corp/shop", "git@github.com:Acme-Corp/shop",
                            "ssh://git@github.com/Acme-Corp/shop.git",
                            "https://bot@github.com/Acme-Corp/shop.git/"}) {
        EXPECT_TRUE(names_repository(e.repo_urls, url)) << url;
    }
    EXPECT_FALSE(names_repository(e.repo_urls, "https://github.com/Acme-Corp/shop-infra"));
    EXPECT_FALSE(names_repository(e.repo_urls, "https://gitlab.com/Acme-Corp/shop"));
}

TEST(SourceWebhook, GithubPingIsAcceptedAndCarriesNoPush) {
    std::string body = payload("github-ping.json");
    auto r = parse_source_webhook(github(body, "ping"), body, config());
    ASSERT_TRUE(r.has_value()) << r.error().message;
    EXPECT_EQ(r->event, "ping");
    EXPECT_FALSE(r->push);
}

TEST(SourceWebhook, GithubTagPushAndDeletedBranch) {
    std::string tag = payload("github-push-tag.json");
    auto t = parse_source_webhook(github(tag), tag, config());
    ASSERT_TRUE(t.has_value()) << t.error().message;
    EXPECT_TRUE(t->push->is_tag());
    EXPECT_EQ(t->push->branch(), "");
    EXPECT_TRUE(t->push->created);
    EXPECT_FALSE(t->push->paths_complete) << "a created ref has no 'before' to compare with";

    std::string del = payload("github-push-deleted.json");
    auto d = parse_source_webhook(github(del), del, config());
    ASSERT_TRUE(d.has_value()) << d.error().message;
    EXPECT_TRUE(d->push->deleted);
    EXPECT_EQ(d->push->after, std::string(40, '0'));
    EXPECT_EQ(d->push->branch(), "feature/old");
    EXPECT_FALSE(d->push->paths_complete);
}

TEST(SourceWebhook, GithubCompletenessFollowsTheCapsAndForcedPushes) {
    auto doc = nlohmann::json::parse(payload("github-push.json"));
    auto parse = [&](const nlohmann::json& j) {
        std::string body = j.dump();
        auto r = parse_source_webhook(github(body), body, config());
        EXPECT_TRUE(r.has_value()) << r.error().message;
        return r ? *r->push : PushEvent{};
    };
    auto forced = doc;
    forced["forced"] = true;
    EXPECT_FALSE(parse(forced).paths_complete) << "a force push may drop commits";
    auto twenty = doc;
    while (twenty["commits"].size() < 20) twenty["commits"].push_back(doc["commits"][0]);
    EXPECT_FALSE(parse(twenty).paths_complete) << "20 commits: GitHub may have cut the list";
    auto nineteen = doc;
    while (nineteen["commits"].size() < 19) nineteen["commits"].push_back(doc["commits"][0]);
    EXPECT_TRUE(parse(nineteen).paths_complete);
    auto files = doc;
    auto& modified = files["commits"][0]["modified"];
    for (int i = 0; i < 5000; ++i) modified.push_back("gen/f" + std::to_string(i) + ".py");
    EXPECT_FALSE(parse(files).paths_complete) << "a file list at GitHub's 5,000-path cap";
    auto none = doc;
    none["commits"] = nlohmann::json::array();
    EXPECT_FALSE(parse(none).paths_complete) << "no commits listed: nothing to go by";
}

TEST(SourceWebhook, GitlabPushAndTagPush) {
    std::string body = payload("gitlab-push.json");
    auto r = parse_source_webhook(gitlab(), body, config());
    ASSERT_TRUE(r.has_value()) << r.error().message;
    EXPECT_EQ(r->forge, Forge::gitlab);
    EXPECT_EQ(r->delivery, "13792a34-cac6-4fda-95a8-c58e00a3954e");
    const PushEvent& e = *r->push;
    EXPECT_EQ(e.after, "da1560886d4f094c3e6c9ef40349f7d38b5d27d7");
    EXPECT_EQ(e.changed_paths, (std::vector<std::string>{
                                   "libs/common/common/old.py", "libs/common/common/util.py",
                                   "services/api/poetry.lock", "services/api/pyproject.toml"}));
    EXPECT_TRUE(e.paths_complete) << "total_commits_count equals the commits listed";
    EXPECT_TRUE(names_repository(e.repo_urls, "https://gitlab.example.com/acme/platform/shop"));
    EXPECT_TRUE(names_repository(e.repo_urls, "git@gitlab.example.com:acme/platform/shop.git"));

    auto capped = nlohmann::json::parse(body);
    capped["total_commits_count"] = 57;
    std::string capped_body = capped.dump();
    auto c = parse_source_webhook(gitlab(), capped_body, config());
    ASSERT_TRUE(c.has_value());
    EXPECT_FALSE(c->push->paths_complete) << "GitLab lists 20 of 57 commits";

    std::string tag = payload("gitlab-tag-push.json");
    auto t = parse_source_webhook(gitlab("Tag Push Hook"), tag, config());
    ASSERT_TRUE(t.has_value()) << t.error().message;
    EXPECT_TRUE(t->push->is_tag());
    EXPECT_EQ(t->push->ref, "refs/tags/v1.0.0");
}

TEST(SourceWebhook, GiteaAndForgejoPush) {
    std::string body = payload("gitea-push.json");
    auto r = parse_source_webhook(gitea(body), body, config());
    ASSERT_TRUE(r.has_value()) << r.error().message;
    EXPECT_EQ(r->forge, Forge::gitea) << "X-Gitea-Event wins over X-GitHub-Event";
    EXPECT_EQ(r->delivery, "f6266f16-1bf3-46a5-9ea4-602e06ead473");
    const PushEvent& e = *r->push;
    EXPECT_EQ(e.branch(), "develop");
    EXPECT_EQ(e.changed_paths, (std::vector<std::string>{"services/worker/pyproject.toml",
                                                         "services/worker/worker/jobs.py"}));
    EXPECT_TRUE(e.paths_complete);
    EXPECT_TRUE(names_repository(e.repo_urls, "ssh://git@gitea.example.com:2222/acme/shop"));
    EXPECT_TRUE(names_repository(e.repo_urls, "https://gitea.example.com/acme/shop.git"));

    // Older Gitea (no total_commits): the list may be cut at FEED_MAX_COMMIT_NUM.
    auto old = nlohmann::json::parse(body);
    old.erase("total_commits");
    std::string old_body = old.dump();
    auto o = parse_source_webhook(gitea(old_body), old_body, config());
    ASSERT_TRUE(o.has_value());
    EXPECT_FALSE(o->push->paths_complete);

    // Forgejo: its own headers (and Gitea's); the Authorization header option as the secret.
    Headers forgejo = {{"X-Forgejo-Event", "push"},
                       {"X-Gitea-Event", "push"},
                       {"X-GitHub-Event", "push"},
                       {"X-Forgejo-Delivery", "d1"},
                       {"X-Forgejo-Signature", crypto::hmac_sha256_hex(kSecret, body)}};
    auto f = parse_source_webhook(forgejo, body, config());
    ASSERT_TRUE(f.has_value()) << f.error().message;
    EXPECT_EQ(f->forge, Forge::forgejo);
    EXPECT_EQ(f->delivery, "d1");
    Headers bearer = {{"X-Gitea-Event", "push"}, {"Authorization", "Bearer " + kSecret}};
    EXPECT_TRUE(parse_source_webhook(bearer, body, config()).has_value());
    Headers hub = {{"X-Gitea-Event", "push"},
                   {"X-Hub-Signature-256", "sha256=" + crypto::hmac_sha256_hex(kSecret, body)}};
    EXPECT_TRUE(parse_source_webhook(hub, body, config()).has_value());
}

void expect_refused(const Result<SourceWebhook>& r, int status, std::string_view reason,
                    const std::string& says) {
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().http_status, status) << r.error().message;
    EXPECT_EQ(r.error().reason, reason) << r.error().message;
    EXPECT_NE(r.error().message.find(says), std::string::npos) << r.error().message;
    EXPECT_EQ(r.error().message.find(kSecret), std::string::npos) << "the secret is never echoed";
    EXPECT_EQ(r.error().message.find("Acme-Corp"), std::string::npos) << "nor the body";
}

TEST(SourceWebhook, BadSignaturesAndTokensAreUnauthenticated) {
    std::string body = payload("github-push.json");
    auto h = github(body);
    h.back().second = "sha256=" + crypto::hmac_sha256_hex("wrong secret", body);
    expect_refused(parse_source_webhook(h, body, config()), 401, kUnauthenticated,
                   "GitHub webhook: X-Hub-Signature-256 does not match");
    // The right signature of another body (a replayed header).
    expect_refused(parse_source_webhook(github(body), body + " ", config()), 401, kUnauthenticated,
                   "X-Hub-Signature-256 does not match");
    h.back().second = crypto::hmac_sha256_hex(kSecret, body);  // no "sha256=" prefix
    expect_refused(parse_source_webhook(h, body, config()), 401, kUnauthenticated,
                   "does not match");
    h.pop_back();
    expect_refused(parse_source_webhook(h, body, config()), 401, kUnauthenticated,
                   "no X-Hub-Signature-256 header");
    expect_refused(parse_source_webhook(github(body), body, SourceWebhookConfig{}), 401,
                   kUnauthenticated, "no secret is configured");

    std::string gl = payload("gitlab-push.json");
    auto g = gitlab();
    g[1].second = kSecret + "x";
    expect_refused(parse_source_webhook(g, gl, config()), 401, kUnauthenticated,
                   "GitLab webhook: X-Gitlab-Token does not match");
    g.erase(g.begin() + 1);
    expect_refused(parse_source_webhook(g, gl, config()), 401, kUnauthenticated,
                   "no X-Gitlab-Token header");

    std::string gt = payload("gitea-push.json");
    auto t = gitea(gt);
    t.back().second = crypto::hmac_sha256_hex(kSecret, gt + "tampered");
    expect_refused(parse_source_webhook(t, gt, config()), 401, kUnauthenticated,
                   "Gitea webhook: X-Gitea-Signature");
    Headers wrong_bearer = {{"X-Gitea-Event", "push"}, {"Authorization", "Bearer nope"}};
    expect_refused(parse_source_webhook(wrong_bearer, gt, config()), 401, kUnauthenticated,
                   "does not match");
    Headers unsigned_ = {{"X-Gitea-Event", "push"}};
    expect_refused(parse_source_webhook(unsigned_, gt, config()), 401, kUnauthenticated,
                   "no X-Gitea-Signature");
}

TEST(SourceWebhook, MissingHeadersWrongEventsAndBadPayloads) {
    std::string body = payload("github-push.json");
    expect_refused(parse_source_webhook({{"Content-Type", "application/json"}}, body, config()),
                   400, kBadPayload, "no X-GitHub-Event, X-Gitlab-Event");
    // Authenticated, but not a push: accepted and ignored.
    expect_refused(parse_source_webhook(github(body, "issues"), body, config()), 202,
                   kUnsupportedEvent, "event 'issues' (X-GitHub-Event) is not a push");
    expect_refused(parse_source_webhook(gitlab("Merge Request Hook"), body, config()), 202,
                   kUnsupportedEvent, "'Merge Request Hook'");
    // Not authenticated and not a push: 401 first (nothing is learned without the secret).
    auto h = github(body, "issues");
    h.pop_back();
    expect_refused(parse_source_webhook(h, body, config()), 401, kUnauthenticated, "GitHub");

    auto bad = [&](const std::string& text, const std::string& says) {
        expect_refused(parse_source_webhook(github(text), text, config()), 400, kBadPayload, says);
    };
    bad("{not json", "GitHub push webhook: the body is not a JSON object");
    bad("[1,2]", "the body is not a JSON object");
    auto doc = nlohmann::json::parse(body);
    auto no_ref = doc;
    no_ref.erase("ref");
    bad(no_ref.dump(), "GitHub push webhook: field 'ref' is missing");
    auto short_after = doc;
    short_after["after"] = "0d1a26e";
    bad(short_after.dump(), "field 'after' is not a commit id");
    auto branch_name = doc;
    branch_name["ref"] = "main";
    bad(branch_name.dump(), "field 'ref' must be a full ref");
    auto added = doc;
    added["commits"][1]["added"] = "README.md";
    bad(added.dump(), "field 'commits[1].added' must be an array of paths");
    auto no_repo = doc;
    no_repo.erase("repository");
    bad(no_repo.dump(), "the payload names no repository URL");
    auto forced = doc;
    forced["forced"] = "yes";
    bad(forced.dump(), "field 'forced' must be true or false");
}

TEST(SourceWebhook, OversizedBodiesAreRefusedFirst) {
    std::string body(1024 * 1024 + 1, ' ');
    expect_refused(parse_source_webhook({}, body, config()), 413, kBodyTooLarge,
                   "body of 1048577 bytes exceeds the limit of 1048576");
    std::string exact = payload("github-push.json");
    SourceWebhookConfig small = config();
    small.max_body_bytes = exact.size();
    EXPECT_TRUE(parse_source_webhook(github(exact), exact, small).has_value());
    small.max_body_bytes = exact.size() - 1;
    EXPECT_EQ(parse_source_webhook(github(exact), exact, small).error().http_status, 413);
}

TEST(RepositoryKey, SpellingsOfOneRepository) {
    const std::pair<const char*, const char*> cases[] = {
        {"https://GitHub.com/Org/Repo.git/", "github.com/Org/Repo"},
        {"http://github.com/Org/Repo", "github.com/Org/Repo"},
        {"https://user@github.com:443/Org/Repo.git", "github.com/Org/Repo"},
        {"git@github.com:Org/Repo.git", "github.com/Org/Repo"},
        {"github.com:Org/Repo", "github.com/Org/Repo"},
        {"ssh://git@github.com:22/Org/Repo", "github.com/Org/Repo"},
        {"git+ssh://git@github.com/Org/Repo.git", "github.com/Org/Repo"},
        {"git://github.com/Org/Repo.git", "github.com/Org/Repo"},
        {"https://gitlab.example.com/group/sub/repo.git", "gitlab.example.com/group/sub/repo"},
        {"https://127.0.0.1:8443/git/app.git?x=1", "127.0.0.1/git/app"},
        {"ssh://git@[::1]:2222/srv/app.git", "[::1]/srv/app"},
        {"file:///srv/git/app.git", "file:/srv/git/app"},
        {"/srv/git/app.git/", "file:/srv/git/app"},
        {"", ""},
        {"ftp://host/x", ""},
        {"relative/path", ""},
        {"https://github.com/", ""},
    };
    for (const auto& [url, key] : cases) EXPECT_EQ(repository_key(url), key) << url;
    EXPECT_TRUE(same_repository("https://github.com/org/repo", "git@GITHUB.com:Org/Repo.git"));
    EXPECT_TRUE(same_repository("file:///srv/git/app.git", "/srv/git/app"));
    EXPECT_FALSE(same_repository("https://github.com/org/repo", "https://github.com/org/repo2"));
    EXPECT_FALSE(same_repository("https://github.com/org/repo", "https://gitlab.com/org/repo"));
    EXPECT_FALSE(same_repository("", ""));
}

}  // namespace
}  // namespace poetryops::git
