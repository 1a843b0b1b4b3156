#pragma once
/// The seams the promotion reconciler acts through. Real implementations: git_port.hpp (git
/// module), artifact_port.hpp (registry module); in the cluster a kube-backed HealthPort; fakes in
/// tests.

#include <poetryops/api/poetryapp.hpp>
#include <poetryops/build/plan.hpp>
#include <poetryops/git/committer.hpp>
#include <poetryops/git/repo.hpp>
#include <poetryops/manifest/edit.hpp>
#include <poetryops/promote/plan.hpp>
#include <poetryops/util/result.hpp>

#include <nlohmann/json.hpp>

#include <functional>
#include <future>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace poetryops::controller {

/// Files of a GitOps branch as of one commit.
struct GitSnapshot {
    std::string commit;                             ///< the branch tip they were read at
    std::vector<std::optional<std::string>> files;  ///< in the order asked; nullopt: no such file
};

/// An app's GitOps repository (app.spec.gitops; credentials from its secretRef in the app's
/// namespace): read, find our own commits, and commit through the shared committer.
class GitOpsPort {
public:
    virtual ~GitOpsPort() = default;
    /// The branch tip (fetched now, once) and `paths` at it; nullopt for a file that does not
    /// exist.
    virtual Result<GitSnapshot> read_files(const api::PoetryApp& app,
                                           const std::vector<std::string>& paths) = 0;
    /// The newest commit on the branch whose `Poetryops-Promotion` trailer equals `trailer` (""
    /// when none).
    virtual Result<std::string> find_promotion(const api::PoetryApp& app,
                                               const std::string& trailer) = 0;
    /// The newest commit on the branch (of the last 500) carrying trailer `key` with a value that
    /// starts with `prefix`, with that value; nullopt when none.
    virtual Result<std::optional<git::FoundCommit>> find_trailer(const api::PoetryApp& app,
                                                                 std::string_view key,
                                                                 const std::string& prefix) = 0;
    /// True when `revision` is `commit` or one of its descendants (false for a revision git does
    /// not know).
    virtual Result<bool> contains(const api::PoetryApp& app, const std::string& commit,
                                  const std::string& revision) = 0;
    /// Hands an edit request to the committer of (repo, branch); requests of many apps are batched
    /// into one commit.
    virtual std::future<Result<git::EditOutcome>> submit(const api::PoetryApp& app,
                                                         git::EditRequest request) = 0;
};

/// Where artifacts come from: the image repository and its version policy.
class ArtifactPort {
public:
    virtual ~ArtifactPort() = default;
    /// The newest image of app.spec.image that the policy admits, with its digest; nullopt when
    /// there is none.
    virtual Result<std::optional<promote::Artifact>> newest(const api::PoetryApp& app) = 0;
    /// The digest `tag` of app.spec.image.repository resolves to now (not cached); nullopt when
    /// the tag does not exist. Builds verify what their builder pushed with it.
    virtual Result<std::optional<std::string>> digest_of(const api::PoetryApp& app,
                                                         const std::string& tag) = 0;
};

/// What spec.source says now: its head commit and the facts of the project there.
struct SourceObservation {
    build::SourceCommit head;
    build::ProjectFacts project;
};

/// The app's source repository (spec.source; credentials from its secretRef in the cluster).
class SourcePort {
public:
    virtual ~SourcePort() = default;
    /// The tip of spec.source.ref, its pyproject.toml and poetry.lock at spec.source.path, and
    /// whether it changed the project since `since` (the last commit built; "": it did).
    virtual Result<SourceObservation> observe(const api::PoetryApp& app,
                                              const std::string& since) = 0;
};

/// Where builds run: buildah on this machine (local mode) or Jobs in the cluster. Builds are named
/// by build::job_name, so a restart finds its own builds again.
class BuildPort {
public:
    virtual ~BuildPort() = default;
    /// The app's builds, as the planner reads Jobs.
    virtual Result<std::vector<build::JobObservation>> builds(const api::PoetryApp& app) = 0;
    /// Starts the build of a `start` action; one that already exists is success.
    virtual Result<void> start(const api::PoetryApp& app, const build::Action& start) = 0;
    /// Stops a build; one that does not exist is success.
    virtual Result<void> cancel(const api::PoetryApp& app, const std::string& name) = 0;
    /// Called with the app's key when one of its builds changes phase (from any thread; must not
    /// block).
    virtual void on_change(std::function<void(const std::string& app_key)> fn) { (void)fn; }
};

/// The weights of a canary's live route (`canary.mode: cluster`), as the route's owner wrote them.
struct LiveWeights {
    std::vector<manifest::BackendWeight> weights;  ///< traffic.stable, then traffic.canary
    /// poetryops wrote these weights last (nobody changed them since).
    bool ours = false;
};

/// Where a cluster-mode canary's weights live: the route object in the cluster (kube_traffic.hpp).
class TrafficPort {
public:
    virtual ~TrafficPort() = default;
    /// The live weights of traffic.stable and traffic.canary in route traffic.route.
    virtual Result<LiveWeights> read(const api::PoetryApp& app, const api::CanarySpec& canary,
                                     const std::string& namespace_) = 0;
    /// Sets stable = 100 - canary_weight and canary = canary_weight; another manager's weights
    /// are a conflict ("WeightsConflict"), never overwritten.
    virtual Result<void> set(const api::PoetryApp& app, const api::CanarySpec& canary,
                             const std::string& namespace_, int canary_weight) = 0;
};

/// The object a health gate reads: an Argo CD Application, a Flux Kustomization or a Deployment.
struct HealthObjectRef {
    std::string api_version;  ///< "argoproj.io/v1alpha1"
    std::string resource;     ///< the plural, "applications"
    std::string namespace_;
    std::string name;
    std::string what;  ///< for messages: "Argo CD application", "Flux Kustomization", "Deployment"

    /// "applications.argoproj.io" ("deployments.apps", "pods" for the core group).
    std::string group_resource() const;
    /// "applications.argoproj.io/argocd/app-dev": what a health_change trigger names.
    std::string key() const;
};

/// The object the health gate of `env` reads, its namespace defaulted as docs/api.md says (Argo CD:
/// argocd, Flux: flux-system, Deployment: the app's); nullopt for the gate `none`. The one place
/// that maps a gate to an object: the reconcile reads through it, the cluster runtime indexes apps
/// by it.
std::optional<HealthObjectRef> health_object(const api::PoetryApp& app,
                                             const api::EnvironmentSpec& env);

/// Reads the objects health gates look at, and says when one of them changes.
class HealthPort {
public:
    /// Called with HealthObjectRef::key() of a changed (added, updated, deleted) object; from any
    /// thread; must not block.
    using ChangeFn = std::function<void(const std::string& key)>;

    virtual ~HealthPort() = default;
    /// The object, or nullopt when it does not exist.
    virtual Result<std::optional<nlohmann::json>> get(const HealthObjectRef& object) = 0;
    /// Where changes of the objects asked for so far go. A port that cannot watch never calls it
    /// (changes are then noticed when the app is reconciled for another reason).
    virtual void on_change(ChangeFn fn) { (void)fn; }
};

/// The PoetryApprovals of an app (docs/promotion.md#approvals): in the cluster the API server's
/// (kube_approvals.hpp); local mode has none (the approve annotation only).
class ApprovalPort {
public:
    using ByEnvironment = std::map<std::string, std::vector<api::ApprovalRecord>>;
    virtual ~ApprovalPort() = default;
    /// The approvals naming `app` (same namespace), by the environment they name, including
    /// environments the app does not have (the planner reports those). An error when they cannot
    /// be read: a rejection must never be missed, so the reconcile promotes nothing then.
    virtual Result<ByEnvironment> approvals(const api::PoetryApp& app) = 0;
    /// Called with the app's key ("namespace/name") when one of its approvals is created, changed
    /// or deleted (from any thread; must not block).
    virtual void on_change(std::function<void(const std::string& app_key)> fn) { (void)fn; }
};

}  // namespace poetryops::controller
