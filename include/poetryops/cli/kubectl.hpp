#pragma once
/// `kubectl poetryops` (the kubectl plugin, the binary `kubectl-poetryops`): what an on-call
/// engineer asks of PoetryApps, answered from their status through the API server with the user's
/// kubeconfig (never the controller), and the annotations the promotion engine and the canary read
/// (docs/kubectl-plugin.md). Exit codes and the one stderr line are the CLI's (cli/errors.hpp).
///
/// The decisions (which digest waits where, why, which digest a rollback takes, what `release`
/// clears) are pure functions of a decoded PoetryApp, here for tests; add_kubectl_commands() wires
/// the verbs to the API server.

#include <poetryops/api/poetryapp.hpp>
#include <poetryops/cli/commands.hpp>
#include <poetryops/util/result.hpp>

#include <nlohmann/json.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace poetryops::cli::kubectl {

using TimePoint = std::chrono::system_clock::time_point;

/// The artifact an environment would take next, as the promotion engine chooses it
/// (promote/plan.cpp): the digest its upstream environment runs, or for the first environment the
/// newest eligible image (status.latest).
struct Candidate {
    std::string version;
    std::string tag;
    std::string digest;
    std::string from;  ///< the upstream environment; empty: the registry (status.latest)
};

/// The candidate of `env`; nullopt when there is none or `env` runs it already.
std::optional<Candidate> candidate(const api::PoetryApp& app, std::string_view env);

/// `promotion.approval.required` or `promotion.auto: false`: the engine waits for approvals
/// (PoetryApprovals, or `poetryops.io/approve.<env>: <digest>`).
bool needs_approval(const api::EnvironmentSpec& env);

/// The spec of environment `env`; Kind::not_found naming the app and its environments otherwise.
Result<const api::EnvironmentSpec*> find_environment(const api::PoetryApp& app,
                                                     std::string_view env);

/// Why `env` does not run its next digest yet, from status alone: what runs there and since when,
/// then the gate that waits (hold, rollback pin, canary step and last analysis, rejected digest,
/// upstream health, soak until when, approval, suspend). One or two lines, no trailing newline.
std::string why(const api::PoetryApp& app, std::string_view env, TimePoint now);

/// The digest `approve` annotates: `requested` when it is the digest waiting for approval in
/// `env`, or that digest when `requested` is empty. Kind::invalid when `env` needs no approval,
/// nothing waits, the waiting digest was rejected, or `requested` is another digest (the message
/// names the waiting one).
Result<Candidate> approval_target(const api::PoetryApp& app, std::string_view env,
                                  std::string_view requested);

/// The digest `reject` rejects: `requested` (any sha256 digest: a rejection may come before the
/// digest arrives), or the candidate of `env` when empty. Kind::invalid when `requested` is not a
/// digest or nothing waits and none was named.
Result<Candidate> rejection_target(const api::PoetryApp& app, std::string_view env,
                                   std::string_view requested);

/// The history entry `rollback` pins: `requested`'s newest entry in `env`'s history, or with
/// `requested` empty (--previous) the newest entry of `env` whose digest is neither the running
/// one nor rejected there. Kind::invalid when there is none (the message lists what `env` ran).
Result<api::HistoryEntry> rollback_target(const api::PoetryApp& app, std::string_view env,
                                          std::string_view requested);

/// A change of metadata.annotations and what it does, one line per change.
struct AnnotationChange {
    nlohmann::json annotations = nlohmann::json::object();  ///< merge patch: value or null
    std::vector<std::string> effects;
};

/// `hold`: `poetryops.io/hold.<env>: <why>` (no promotion into `env` while set), and a running
/// canary paused (`poetryops.io/canary.<env>: pause@<digest>`). Kind::invalid when already held.
Result<AnnotationChange> hold_change(const api::PoetryApp& app, std::string_view env,
                                     const std::string& why = {});

/// `release`: everything that keeps `env` where it is: the hold annotation (removed), a hold from
/// git (`poetryops.io/release.<env>: <the held digest or image>`), a paused canary
/// (`resume@<digest>`), a rollback pin (the `poetryops.io/rollback.<env>` annotation removed).
/// Kind::invalid when there is nothing to release.
Result<AnnotationChange> release_change(const api::PoetryApp& app, std::string_view env);

/// kubectl's age: "45s", "12m", "5h", "3d".
std::string age(TimePoint then, TimePoint now);

/// "1.4.2 (sha256:4f3c2b1a09f8)", or the short digest alone without a version.
std::string describe(std::string_view version, std::string_view digest);

/// Registers the kubectl flags (--kubeconfig, --context, -n/--namespace) and the verbs get, why,
/// approve, hold, release, rollback, history and logs on the root app of `kubectl-poetryops`.
void add_kubectl_commands(CLI::App& app, Context& ctx);

}  // namespace poetryops::cli::kubectl
