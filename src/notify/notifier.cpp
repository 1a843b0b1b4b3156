#include <poetryops/notify/notifier.hpp>
#include <poetryops/util/crypto.hpp>
#include <poetryops/util/log.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <random>

namespace poetryops::notify {

using nlohmann::json;
using namespace std::chrono_literals;

std::string_view to_string(Kind kind) {
    switch (kind) {
        case Kind::webhook: return "webhook";
        case Kind::slack: return "slack";
        case Kind::teams: return "teams";
    }
    return "webhook";
}

bool parse_kind(std::string_view s, Kind& out) {
    for (Kind k : {Kind::webhook, Kind::slack, Kind::teams}) {
        if (s == to_string(k)) {
            out = k;
            return true;
        }
    }
    return false;
}

namespace {

std::string headline(const Message& m) {
    std::string s = m.event + ": " + m.ns + "/" + m.name;
    if (!m.environment.empty()) s += " in " + m.environment;
    if (!m.version.empty()) s += " (" + m.version + ")";
    return s;
}

json facts(const Message& m) {
    json out = json::array();
    auto add = [&](const char* name, const std::string& value) {
        if (!value.empty()) out.push_back({{"name", name}, {"value", value}});
    };
    add("Environment", m.environment);
    add("Version", m.version);
    add("Tag", m.tag);
    add("Digest", m.digest);
    add("Commit", m.commit);
    add("Time", m.time);
    return out;
}

/// `text` with the URL, and its path alone, replaced: the path of a Slack or Teams URL is a token.
std::string hide_url(std::string text, const std::string& url) {
    auto replace_all = [&](const std::string& what, const std::string& with) {
        if (what.empty()) return;
        for (auto pos = text.find(what); pos != std::string::npos;
             pos = text.find(what, pos + with.size()))
            text.replace(pos, what.size(), with);
    };
    replace_all(url, "<notification URL>");
    const auto scheme = url.find("://");
    const auto slash = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
    if (slash != std::string::npos && url.size() > slash + 1)
        replace_all(url.substr(slash), "/<hidden>");
    return text;
}

}  // namespace

std::string build_body(Kind kind, const Message& m) {
    switch (kind) {
        case Kind::webhook:
            return json{{"event", m.event},
                        {"app", {{"namespace", m.ns}, {"name", m.name}}},
                        {"environment", m.environment},
                        {"version", m.version},
                        {"tag", m.tag},
                        {"digest", m.digest},
                        {"commit", m.commit},
                        {"message", m.text},
                        {"time", m.time}}
                .dump();
        case Kind::slack: {
            // Slack incoming webhooks: `text` is the fallback, `blocks` the layout (Block Kit).
            json fields = json::array();
            for (const auto& f : facts(m))
                fields.push_back({{"type", "mrkdwn"},
                                  {"text", "*" + f["name"].get<std::string>() + "*\n" +
                                               f["value"].get<std::string>()}});
            json blocks = json::array();
            blocks.push_back({{"type", "section"},
                              {"text", {{"type", "mrkdwn"}, {"text", "*" + headline(m) + "*"}}}});
            if (!m.text.empty())
                blocks.push_back(
                    {{"type", "section"}, {"text", {{"type", "plain_text"}, {"text", m.text}}}});
            if (!fields.empty()) {
                // A section holds at most 10 fields; facts() gives at most 6.
                blocks.push_back({{"type", "section"}, {"fields", fields}});
            }
            return json{{"text", headline(m) + (m.text.empty() ? "" : ": " + m.text)},
                        {"blocks", blocks}}
                .dump();
        }
        case Kind::teams:
            // Office 365 connector MessageCard (Teams incoming webhook).
            return json{{"@type", "MessageCard"},
                        {"@context", "https://schema.org/extensions"},
                        {"summary", headline(m)},
                        {"themeColor", m.event == "Promoted" ? "2EB886" : "D9534F"},
                        {"title", headline(m)},
                        {"sections", json::array({{{"text", m.text}, {"facts", facts(m)}}})}}
                .dump();
    }
    return {};
}

http::Request build_request(const Target& target, const Message& message, std::string_view key) {
    http::Request r;
    r.method = "POST";
    r.url = target.url;
    r.body = build_body(target.kind, message);
    r.timeout = target.timeout;
    r.headers.set("Content-Type", "application/json");
    if (target.kind == Kind::webhook) {
        r.headers.set("X-Poetryops-Event", message.event);
        r.headers.set("X-Poetryops-Delivery", std::string(key));
        if (!target.hmac_key.empty())
            r.headers.set("X-Poetryops-Signature",
                          "sha256=" + crypto::hmac_sha256_hex(target.hmac_key, r.body));
    }
    return r;
}

bool retryable_status(int status) {
    return status == 408 || status == 425 || status == 429 || (status >= 500 && status <= 599);
}

std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view value) {
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
    if (value.empty()) return std::nullopt;
    long long seconds = 0;
    auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
    if (ec != std::errc{} || p != value.data() + value.size() || seconds < 0) return std::nullopt;
    seconds = std::min<long long>(seconds, 24 * 3600);
    return std::chrono::milliseconds(seconds * 1000);
}

std::chrono::milliseconds retry_delay(const RetryPolicy& policy, int attempt,
                                      std::optional<std::chrono::milliseconds> retry_after,
                                      double jitter) {
    if (retry_after) return std::min(*retry_after, policy.max_delay);
    jitter = std::clamp(jitter, 0.5, 1.0);
    auto d = policy.initial;
    for (int i = 1; i < attempt && d < policy.max_delay; ++i) d *= 2;
    d = std::min(d, policy.max_delay);
    return std::chrono::milliseconds(
        static_cast<long long>(static_cast<double>(d.count()) * jitter));
}

Result<std::unique_ptr<Notifier>> Notifier::create(NotifierOptions options, OnOutcome on_outcome) {
    POETRYOPS_TRY(auto client, http::Client::create(options.client));
    if (options.metrics) {
        options.metrics->describe("poetryops_notifications_total", metrics::MetricType::counter,
                                  "Notifications by receiver kind and result (delivered, failed, "
                                  "retried, dropped).");
        options.metrics->describe("poetryops_notifications_queue_depth", metrics::MetricType::gauge,
                                  "Notifications waiting to be sent.");
    }
    return std::unique_ptr<Notifier>(
        new Notifier(std::move(options), std::move(client), std::move(on_outcome)));
}

Notifier::Notifier(NotifierOptions options, std::unique_ptr<http::Client> client,
                   OnOutcome on_outcome)
    : options_(std::move(options)), client_(std::move(client)), on_outcome_(std::move(on_outcome)) {
    worker_ = std::thread([this] { run(); });
}

Notifier::~Notifier() { stop(); }

void Notifier::stop() {
    {
        std::lock_guard lock(mu_);
        stopping_ = true;
    }
    cv_.notify_all();
    if (worker_.joinable()) worker_.join();
}

void Notifier::count(const Target& t, std::string_view result) {
    if (options_.metrics)
        options_.metrics->inc(
            "poetryops_notifications_total",
            {{"kind", std::string(to_string(t.kind))}, {"result", std::string(result)}});
}

bool Notifier::enqueue(Delivery delivery) {
    bool dropped = false;
    std::size_t depth = 0;
    Target dropped_target;
    {
        std::lock_guard lock(mu_);
        if (options_.capacity > 0 && queue_.size() >= options_.capacity) {
            dropped_target = queue_.front().target;
            queue_.pop_front();
            dropped = true;
        }
        queue_.push_back(std::move(delivery));
        depth = queue_.size();
    }
    cv_.notify_one();
    if (dropped) count(dropped_target, "dropped");
    if (options_.metrics)
        options_.metrics->set("poetryops_notifications_queue_depth", {}, double(depth));
    return !dropped;
}

std::size_t Notifier::depth() const {
    std::lock_guard lock(mu_);
    return queue_.size();
}

bool Notifier::sleep_for(std::chrono::milliseconds d) {
    std::unique_lock lock(mu_);
    return !cv_.wait_for(lock, d, [this] { return stopping_; });
}

Outcome Notifier::deliver(const Delivery& d) {
    Outcome out{.target = d.target.name, .key = d.key, .event = d.message.event};
    out.context = d.context;
    auto request = build_request(d.target, d.message, d.key);
    const auto started = std::chrono::steady_clock::now();
    std::mt19937_64 rng(std::random_device{}());
    std::uniform_real_distribution<double> jitter(0.5, 1.0);
    for (int attempt = 1;; ++attempt) {
        out.attempts = attempt;
        std::optional<std::chrono::milliseconds> retry_after;
        bool retry = false;
        auto resp = client_->request(request);
        if (!resp) {
            // The client's errors may name the URL; Slack and Teams keep their token in its path.
            out.error = hide_url(log::redact(resp.error().message), d.target.url);
            retry = true;
        } else if (resp->status >= 200 && resp->status < 300) {
            out.delivered = true;
            out.error.clear();
            count(d.target, "delivered");
            return out;
        } else {
            out.error = "HTTP " + std::to_string(resp->status);
            retry = retryable_status(resp->status);
            if (auto ra = resp->headers.get("Retry-After")) retry_after = parse_retry_after(*ra);
        }
        const auto delay = retry_delay(options_.retry, attempt, retry_after, jitter(rng));
        const bool too_old =
            std::chrono::steady_clock::now() + delay - started > options_.retry.max_age;
        if (!retry || attempt >= options_.retry.max_attempts || too_old) break;
        count(d.target, "retried");
        if (!sleep_for(delay)) {
            out.error = "stopped before delivery (" + out.error + ")";
            return out;
        }
    }
    count(d.target, "failed");
    return out;
}

void Notifier::run() {
    for (;;) {
        Delivery d;
        {
            std::unique_lock lock(mu_);
            cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
            if (stopping_) return;
            d = std::move(queue_.front());
            queue_.pop_front();
            if (options_.metrics)
                options_.metrics->set("poetryops_notifications_queue_depth", {},
                                      double(queue_.size()));
        }
        auto outcome = deliver(d);
        {
            std::lock_guard lock(mu_);
            if (stopping_ && !outcome.delivered) return;  // abandoned, re-derived on restart
        }
        if (on_outcome_) on_outcome_(outcome);
    }
}

}  // namespace poetryops::notify
