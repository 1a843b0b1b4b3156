#include <poetryops/controller/notifications.hpp>

#include <poetryops/api/conditions.hpp>
#include <poetryops/controller/kube_ports.hpp>
#include <poetryops/kube/resource.hpp>
#include <poetryops/util/clock.hpp>
#include <poetryops/util/fs.hpp>
#include <poetryops/util/log.hpp>

#include <algorithm>
#include <set>

namespace poetryops::controller {

namespace fs = std::filesystem;

namespace {

/// A delivery whose outcome never came (dropped from a full queue, a lost wake-up) is forgotten
/// after this, so the fact is sent again: longer than the notifier's max_age plus one timeout.
constexpr auto kInFlightExpiry = std::chrono::minutes(15);
/// Keys of facts no longer current kept per target besides the current ones (a fact that flickers
/// is not sent twice).
constexpr std::size_t kOldKeysKept = api::kNotificationKeysKept;

std::string app_id(const api::PoetryApp& app) {
    return app.metadata.uid.empty() ? app.key() : app.metadata.uid;
}

std::string digest_of_image(const std::string& image) {
    auto at = image.find('@');
    return at == std::string::npos ? image : image.substr(at + 1);
}

notify::Message message_for(const api::PoetryApp& app, std::string_view event,
                            const std::string& env) {
    notify::Message m;
    m.event = std::string(event);
    m.ns = app.metadata.namespace_;
    m.name = app.metadata.name;
    m.environment = env;
    return m;
}

std::string context_of(const std::string& app_key, const std::string& target) {
    return app_key + "\n" + target;
}

}  // namespace

std::vector<NotificationFact> notification_facts(const api::PoetryApp& app,
                                                 const api::PoetryAppStatus& status) {
    using api::NotificationEvent;
    std::vector<NotificationFact> out;
    const std::string id = app_id(app);
    auto other_key = [&](const std::string& env, const std::string& digest,
                         std::string_view reason) {
        return id + "/" + env + "/" + digest + "/" + std::string(reason);
    };
    for (const auto& env : app.spec.environments) {
        // The newest promotion or rollback of the environment (canary steps are not promotions).
        for (const auto& h : status.history) {
            if (h.environment != env.name || h.kind == api::HistoryKind::canary) continue;
            if (h.commit.empty()) break;
            const bool rollback = h.kind == api::HistoryKind::rollback;
            NotificationFact f;
            f.event = rollback ? NotificationEvent::rolled_back : NotificationEvent::promoted;
            f.key = h.commit;
            f.message = message_for(app, api::to_string(f.event), env.name);
            f.message.version = h.version;
            f.message.tag = h.tag;
            f.message.digest = h.digest;
            f.message.commit = h.commit;
            f.message.text = std::string(rollback ? "rolled back " : "promoted ") + env.name +
                             " to " + (h.version.empty() ? h.digest : h.version) +
                             (h.reason.empty() ? "" : ": " + h.reason);
            if (h.time) f.message.time = format_rfc3339(*h.time);
            out.push_back(std::move(f));
            break;
        }
        const api::EnvironmentStatus* st = status.find_environment(env.name);
        if (!st) continue;
        if (st->waiting && st->waiting->reason == api::kReasonWaitingForApproval &&
            !st->waiting->digest.empty()) {
            NotificationFact f;
            f.event = NotificationEvent::waiting_for_approval;
            f.key = other_key(env.name, st->waiting->digest, api::kReasonWaitingForApproval);
            f.message = message_for(app, api::kReasonWaitingForApproval, env.name);
            f.message.version = st->waiting->version;
            f.message.tag = st->waiting->tag;
            f.message.digest = st->waiting->digest;
            f.message.text =
                (st->waiting->version.empty() ? st->waiting->digest : st->waiting->version) +
                " waits for approval to enter " + env.name;
            out.push_back(std::move(f));
        }
        if (st->held) {
            NotificationFact f;
            f.event = NotificationEvent::held;
            const std::string pinned = digest_of_image(st->held_image);
            f.key = other_key(env.name, pinned, api::kReasonHeld);
            f.message = message_for(app, api::kReasonHeld, env.name);
            f.message.digest = pinned;
            f.message.text = st->message;
            if (st->since) f.message.time = format_rfc3339(*st->since);
            out.push_back(std::move(f));
        }
        if (st->canary && st->canary->phase == api::CanaryPhase::aborted) {
            NotificationFact f;
            f.event = NotificationEvent::canary_aborted;
            f.key = other_key(env.name, st->canary->digest, api::kReasonCanaryAborted);
            f.message = message_for(app, api::kReasonCanaryAborted, env.name);
            f.message.version = st->canary->version;
            f.message.tag = st->canary->tag;
            f.message.digest = st->canary->digest;
            f.message.commit = st->canary->commit;
            f.message.text = st->canary->message;
            out.push_back(std::move(f));
        }
    }
    if (!status.builds.empty()) {
        const api::BuildStatus& b = status.builds.front();
        if (b.phase == api::BuildPhase::failed && b.reason == api::kReasonBuildFailed) {
            NotificationFact f;
            f.event = NotificationEvent::build_failed;
            f.key = other_key("build", b.commit, api::kReasonBuildFailed);
            f.message = message_for(app, api::kReasonBuildFailed, "");
            f.message.version = b.version;
            f.message.tag = b.tag;
            f.message.commit = b.commit;
            f.message.text = b.message;
            if (b.start_time) f.message.time = format_rfc3339(*b.start_time);
            out.push_back(std::move(f));
        }
    }
    return out;
}

SecretSource local_secret_source(fs::path dir) {
    return [dir](const std::string& ns, const std::string& name) -> Result<SecretData> {
        if (dir.empty()) {
            return fail(Error::Kind::invalid,
                        "Secret " + ns + "/" + name +
                            ": local mode reads Secrets from files, and no --secrets-dir is set");
        }
        const fs::path folder = dir / ns / name;
        std::error_code ec;
        if (!fs::is_directory(folder, ec)) {
            return fail(Error::Kind::not_found,
                        "Secret " + ns + "/" + name + ": no folder " + folder.string());
        }
        SecretData d;
        for (const auto& e : fs::directory_iterator(folder, ec)) {
            if (!e.is_regular_file(ec)) continue;
            auto text = read_file(e.path());
            if (!text) continue;
            d.data[e.path().filename().string()] = std::move(*text);
        }
        return d;
    };
}

SecretSource kube_secret_source(kube::KubeClient& client) {
    kube::KubeClient* c = &client;
    return [c](const std::string& ns, const std::string& name) -> Result<SecretData> {
        auto s = c->get(kube::resources::secrets().in(ns).named(name));
        if (!s) {
            Error e = s.error();
            e.message = "Secret " + ns + "/" + name + ": " + e.message;
            return e;
        }
        SecretData d;
        d.version = s->value("/metadata/resourceVersion"_json_pointer, std::string());
        if (auto data = s->find("data"); data != s->end() && data->is_object()) {
            for (const auto& [key, value] : data->items()) {
                (void)value;
                if (auto v = secret_value(*s, key)) d.data[key] = *v;
            }
        }
        return d;
    };
}

Notifications::Notifications(notify::Notifier& notifier, SecretSource secrets, const Clock& clock,
                             std::function<void(const std::string&)> wake)
    : notifier_(notifier), secrets_(std::move(secrets)), clock_(clock), wake_(std::move(wake)) {}

void Notifications::on_outcome(const notify::Outcome& o) {
    const auto nl = o.context.find('\n');
    if (nl == std::string::npos) return;  // not ours
    const std::string app = o.context.substr(0, nl);
    const std::string target = o.context.substr(nl + 1);
    if (o.delivered) {
        POETRYOPS_LOG(info, "notification delivered",
                      {{"app", app}, {"target", target}, {"event", o.event}, {"key", o.key}});
    } else {
        POETRYOPS_LOG(warn, "notification not delivered",
                      {{"app", app},
                       {"target", target},
                       {"event", o.event},
                       {"key", o.key},
                       {"attempts", std::to_string(o.attempts)},
                       {"error", log::redact(o.error)}});
    }
    {
        std::lock_guard lock(mu_);
        const auto erased = std::erase_if(in_flight_, [&](const Sent& s) {
            return s.app == app && s.target == target && s.key == o.key;
        });
        if (erased == 0) return;  // the app was deleted (forget) or the entry expired
        ++outcomes_;
        ended_[app][target].push_back(
            Ended{o.key, o.event, o.delivered, log::redact(o.error), clock_.now(), false});
    }
    idle_.notify_all();
    if (wake_) wake_(app);
}

void Notifications::forget(const std::string& app_key) {
    {
        std::lock_guard lock(mu_);
        ended_.erase(app_key);
        std::erase_if(in_flight_, [&](const Sent& s) { return s.app == app_key; });
    }
    idle_.notify_all();
}

std::size_t Notifications::outcomes() const {
    std::lock_guard lock(mu_);
    return outcomes_;
}

std::size_t Notifications::in_flight() const {
    std::lock_guard lock(mu_);
    return in_flight_.size();
}

bool Notifications::wait_idle(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    return idle_.wait_for(lock, timeout, [this] { return in_flight_.empty(); });
}

void Notifications::process(const api::PoetryApp& app, api::PoetryAppStatus& status,
                            std::vector<promote::Event>& events) {
    const std::string app_key = app.key();
    const auto now = clock_.now();
    const auto steady = std::chrono::steady_clock::now();
    const auto stored_of = [&](const std::string& name) -> const api::NotificationStatus* {
        for (const auto& n : app.status.notifications)
            if (n.name == name) return &n;
        return nullptr;
    };
    const std::vector<NotificationFact> facts = notification_facts(app, status);
    // A new target starts from the stored state as already sent.
    std::vector<NotificationFact> baseline;
    bool baseline_done = false;

    std::vector<api::NotificationStatus> result;
    struct Todo {
        const api::NotificationSpec* target;
        const NotificationFact* fact;
    };
    std::vector<Todo> todo;
    {
        std::lock_guard lock(mu_);
        std::erase_if(in_flight_,
                      [&](const Sent& s) { return steady - s.since > kInFlightExpiry; });
        auto& ended_of_app = ended_[app_key];
        for (const auto& target : app.spec.notifications) {
            const api::NotificationStatus* stored = stored_of(target.name);
            api::NotificationStatus ns;
            ns.name = target.name;
            if (stored) {
                ns = *stored;
            } else {
                if (!baseline_done) {
                    baseline = notification_facts(app, app.status);
                    baseline_done = true;
                }
                for (const auto& f : baseline)
                    if (target.wants(f.event)) ns.keys.push_back(f.key);
            }
            auto has_key = [&](const std::string& key) {
                return std::find(ns.keys.begin(), ns.keys.end(), key) != ns.keys.end();
            };
            // Outcomes: recorded in status; forgotten here once the stored status holds them.
            auto& ended = ended_of_app[target.name];
            for (auto& e : ended) {
                if (!has_key(e.key)) ns.keys.push_back(e.key);
                if (e.delivered) {
                    if (ns.last_failure && ns.last_failure->time &&
                        *ns.last_failure->time <= e.time)
                        ns.last_failure.reset();
                } else {
                    ns.last_failure = api::NotificationFailure{e.key, e.event, e.error, e.time};
                    if (!e.reported) {
                        e.reported = true;
                        events.push_back(
                            promote::Event{true, std::string(api::kReasonNotificationFailed),
                                           "notification target " + target.name + ": " + e.event +
                                               " (" + e.key + ") not delivered: " + e.error});
                    }
                }
            }
            std::erase_if(ended, [&](const Ended& e) {
                if (!stored || (!e.reported && !e.delivered)) return false;
                const bool in_stored = std::find(stored->keys.begin(), stored->keys.end(), e.key) !=
                                       stored->keys.end();
                return in_stored;
            });
            // New facts.
            std::set<std::string> current;
            for (const auto& f : facts) {
                if (!target.wants(f.event)) continue;
                current.insert(f.key);
                if (has_key(f.key)) continue;
                const bool flying = std::any_of(in_flight_.begin(), in_flight_.end(), [&](auto& s) {
                    return s.app == app_key && s.target == target.name && s.key == f.key;
                });
                if (!flying) todo.push_back(Todo{&target, &f});
            }
            // Bounded: every key of a fact still current (or it would be sent again), and the
            // newest kOldKeysKept others.
            std::size_t old = 0;
            for (const auto& k : ns.keys) old += current.count(k) ? 0 : 1;
            for (auto it = ns.keys.begin(); old > kOldKeysKept && it != ns.keys.end();) {
                if (!current.count(*it)) {
                    it = ns.keys.erase(it);
                    --old;
                } else {
                    ++it;
                }
            }
            result.push_back(std::move(ns));
        }
        // Targets removed from the spec: their outcomes are dropped with them.
        std::erase_if(ended_of_app, [&](const auto& kv) {
            return kv.second.empty() ||
                   std::none_of(app.spec.notifications.begin(), app.spec.notifications.end(),
                                [&](const auto& t) { return t.name == kv.first; });
        });
        if (ended_of_app.empty()) ended_.erase(app_key);
    }

    // Enqueue outside the lock: the Secret is read now (an API GET in the cluster).
    for (const auto& t : todo) {
        const api::NotificationSpec& target = *t.target;
        const NotificationFact& fact = *t.fact;
        auto failure = [&](const std::string& why) {
            api::NotificationStatus* ns = nullptr;
            for (auto& n : result)
                if (n.name == target.name) ns = &n;
            const bool repeated = ns && ns->last_failure && ns->last_failure->key == fact.key &&
                                  ns->last_failure->message == why;
            if (ns && !repeated) {
                ns->last_failure = api::NotificationFailure{
                    fact.key, std::string(api::to_string(fact.event)), why, now};
                events.push_back(promote::Event{true, std::string(api::kReasonNotificationFailed),
                                                "notification target " + target.name + ": " +
                                                    ns->last_failure->event + " (" + fact.key +
                                                    ") not sent: " + why});
            }
        };
        notify::Target nt;
        nt.name = target.name;
        nt.kind = target.type;
        auto url = secrets_ ? secrets_(app.metadata.namespace_, target.url_from.name)
                            : Result<SecretData>(fail(Error::Kind::invalid, "no Secrets here"));
        if (!url) {
            failure("urlFrom: " + log::redact(url.error().message));
            continue;
        }
        auto it = url->data.find(target.url_from.key);
        if (it == url->data.end() || it->second.empty()) {
            failure("urlFrom: Secret " + app.metadata.namespace_ + "/" + target.url_from.name +
                    " has no key " + target.url_from.key);
            continue;
        }
        nt.url = it->second;
        while (!nt.url.empty() && (nt.url.back() == '\n' || nt.url.back() == '\r'))
            nt.url.pop_back();  // a file written by echo
        if (target.hmac_key_from) {
            auto hk = secrets_(app.metadata.namespace_, target.hmac_key_from->name);
            if (!hk) {
                failure("hmacKeyFrom: " + log::redact(hk.error().message));
                continue;
            }
            auto k = hk->data.find(target.hmac_key_from->key);
            if (k == hk->data.end() || k->second.empty()) {
                failure("hmacKeyFrom: Secret " + app.metadata.namespace_ + "/" +
                        target.hmac_key_from->name + " has no key " + target.hmac_key_from->key);
                continue;
            }
            nt.hmac_key = k->second;
        }
        {
            std::lock_guard lock(mu_);
            in_flight_.push_back(Sent{app_key, target.name, fact.key, steady});
        }
        POETRYOPS_LOG(debug, "notification queued",
                      {{"app", app_key},
                       {"target", target.name},
                       {"event", fact.message.event},
                       {"key", fact.key}});
        notifier_.enqueue(notify::Delivery{.target = std::move(nt),
                                           .message = fact.message,
                                           .key = fact.key,
                                           .context = context_of(app_key, target.name)});
    }

    status.notifications = std::move(result);
    // Notified: False while a target's last delivery gave up; True once none has (absent before
    // anything failed).
    const api::NotificationStatus* failing = nullptr;
    for (const auto& n : status.notifications)
        if (n.last_failure && !failing) failing = &n;
    if (failing) {
        api::set_condition(
            status.conditions,
            api::make_condition(api::kConditionNotified, false,
                                std::string(api::kReasonNotificationFailed),
                                "target " + failing->name + ": " + failing->last_failure->event +
                                    " not delivered: " + failing->last_failure->message,
                                app.metadata.generation),
            now);
    } else if (api::find_condition(status.conditions, api::kConditionNotified)) {
        if (app.spec.notifications.empty()) {
            api::remove_condition(status.conditions, api::kConditionNotified);
        } else {
            api::set_condition(status.conditions,
                               api::make_condition(api::kConditionNotified, true,
                                                   std::string(api::kReasonDelivered),
                                                   "every target's last notification was delivered",
                                                   app.metadata.generation),
                               now);
        }
    }
}

}  // namespace poetryops::controller
