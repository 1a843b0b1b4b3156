// Source push webhooks (GitHub, GitLab, Gitea, Forgejo): the first byte picks the forge and event,
// the rest is the body, correctly signed so that the parser (not only authentication) is reached.
#include <poetryops/git/webhook.hpp>
#include <poetryops/util/crypto.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

using namespace poetryops;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);
    const std::string secret = "fuzz-secret";
    const std::string hmac = crypto::hmac_sha256_hex(secret, body);
    std::vector<std::pair<std::string, std::string>> headers;
    const bool ping = data[0] & 0x10;
    switch (data[0] % 4) {
        case 0:
            headers = {{"X-GitHub-Event", ping ? "ping" : "push"},
                       {"X-Hub-Signature-256", "sha256=" + hmac}};
            break;
        case 1:
            headers = {{"X-Gitlab-Event", ping ? "Tag Push Hook" : "Push Hook"},
                       {"X-Gitlab-Token", secret}};
            break;
        case 2: headers = {{"X-Gitea-Event", "push"}, {"X-Gitea-Signature", hmac}}; break;
        default: headers = {{"X-Forgejo-Event", "push"}, {"X-Forgejo-Signature", hmac}}; break;
    }
    git::SourceWebhookConfig config;
    config.secret = secret;
    if (auto hook = git::parse_source_webhook(headers, body, config); hook && hook->push)
        (void)hook->push->branch();
    return 0;
}
