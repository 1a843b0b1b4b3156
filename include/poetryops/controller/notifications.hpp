#pragma once
/// spec.notifications (issue #16, docs/notifications.md): after each reconcile the engine asks
/// Notifications what the app's status now shows worth telling (a promotion, a rollback, a digest
/// waiting for approval, a hold, an aborted canary, a failed build), and hands each fact a target
/// subscribes to and has not been sent yet to the notifier (notify::Notifier: one worker thread,
/// retries; enqueue never blocks).
///
///   reconcile ─► Engine::reconcile ─► Notifications::process(app, status, events)
///                   facts of the status ─ keys already sent (status.notifications) ─ in flight
///                   ─► notify::Notifier::enqueue (URL and HMAC key read from the Secret now)
///   notifier thread ─► Notifications::on_outcome ─► the app's next reconcile (a trigger) records
///                   the key in status.notifications[].keys, or a failure: lastFailure, the
///                   Notified condition and one Warning Event NotificationFailed naming the target
///
/// Deduplication across restarts is the status: a key is sent once per target (the promotion
/// commit for Promoted and RolledBack, "<app uid>/<env>/<digest>/<reason>" for the others). A
/// restart re-derives what is still current from the status and sends what was not recorded
/// (at-least-once). A target added to an existing app starts from the app's current state as
/// already sent: only what happens afterwards is sent. The planner knows nothing of this.

#include <poetryops/api/poetryapp.hpp>
#include <poetryops/controller/analysis_port.hpp>
#include <poetryops/kube/client.hpp>
#include <poetryops/notify/notifier.hpp>
#include <poetryops/promote/plan.hpp>
#include <poetryops/util/clock.hpp>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace poetryops::controller {

/// One notification an app's status calls for.
struct NotificationFact {
    api::NotificationEvent event = api::NotificationEvent::promoted;
    std::string key;  ///< the dedup key
    notify::Message message;
};

/// What `status` shows now (pure): per spec environment the newest promotion (Promoted) or
/// rollback (RolledBack) of status.history, keyed by its commit; a digest WaitingForApproval; a
/// hold (Held); an aborted canary (CanaryAborted); and the newest build when it failed
/// (BuildFailed, environment "build", keyed by the source commit). The other keys are
/// "<uid>/<env>/<digest>/<reason>" (the app's "namespace/name" when it has no uid: local mode).
std::vector<NotificationFact> notification_facts(const api::PoetryApp& app,
                                                 const api::PoetryAppStatus& status);

/// Local mode's Secrets (`poetryops run --secrets-dir DIR`): key `key` of Secret `name` in
/// namespace `ns` is the file DIR/<ns>/<name>/<key>, the layout of a Secret mounted as a volume
/// under a folder per namespace. Errors name the file, never its content.
SecretSource local_secret_source(std::filesystem::path dir);

/// The cluster's Secrets, read through the API (the client the git and registry credentials use).
/// Errors name the Secret, never a value.
SecretSource kube_secret_source(kube::KubeClient& client);

/// Thread safety: process() for different apps at once (never twice at once for one app, as
/// Engine::reconcile); on_outcome() from the notifier's thread.
class Notifications {
public:
    /// `notifier` is not owned and must outlive this; `wake(app_key)` makes the app be
    /// reconciled again (called from the notifier's thread; must not block).
    Notifications(notify::Notifier& notifier, SecretSource secrets, const Clock& clock,
                  std::function<void(const std::string& app_key)> wake);

    /// After a reconcile of a valid app: status.notifications from the stored status
    /// (app.status) and the outcomes that arrived since; the facts of `status` not sent yet are
    /// enqueued; the Notified condition; a NotificationFailed Warning in `events` for each
    /// delivery that gave up (once). Never fails and never waits on the network (the Secret is
    /// read here: one API GET in the cluster).
    void process(const api::PoetryApp& app, api::PoetryAppStatus& status,
                 std::vector<promote::Event>& events);
    /// The notifier's callback.
    void on_outcome(const notify::Outcome& outcome);
    /// Drops what is kept for an app that was deleted (its outcomes; its deliveries in flight end
    /// unrecorded).
    void forget(const std::string& app_key);
    /// Deliveries handed to the notifier whose outcome has not come.
    std::size_t in_flight() const;
    /// Outcomes recorded so far (delivered or given up), since this was made.
    std::size_t outcomes() const;
    /// Waits until nothing is in flight or `timeout` passed; true when nothing is.
    bool wait_idle(std::chrono::milliseconds timeout);

private:
    struct Ended {
        std::string key;
        std::string event;
        bool delivered = false;
        std::string error;
        std::chrono::system_clock::time_point time;
        bool reported = false;  ///< its Warning Event was returned
    };
    struct Sent {
        std::string app;
        std::string target;
        std::string key;
        std::chrono::steady_clock::time_point since;
    };

    notify::Notifier& notifier_;
    SecretSource secrets_;
    const Clock& clock_;
    std::function<void(const std::string&)> wake_;
    mutable std::mutex mu_;
    std::condition_variable idle_;
    /// Outcomes not yet seen in a stored status: app key → target → in order.
    std::map<std::string, std::map<std::string, std::vector<Ended>>> ended_;
    std::vector<Sent> in_flight_;
    std::size_t outcomes_ = 0;
};

}  // namespace poetryops::controller
