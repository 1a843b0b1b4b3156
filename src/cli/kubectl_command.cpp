// `kubectl poetryops` verbs: read PoetryApps (and build Jobs, Pods, logs) from the API server with
// the user's kubeconfig, print tables or one or two lines, and write the annotations the controller
// reads as merge patches bound to the resourceVersion that was read (a PoetryApp that changed in
// between is a 409: run the verb again). Exit codes and errors are the CLI's (cli/errors.hpp).
#include <poetryops/cli/kubectl.hpp>

#include <poetryops/api/codec.hpp>
#include <poetryops/api/poetryapproval.hpp>
#include <poetryops/build/job.hpp>
#include <poetryops/controller/resources.hpp>
#include <poetryops/kube/client.hpp>
#include <poetryops/kube/status.hpp>
#include <poetryops/util/clock.hpp>
#include <poetryops/util/log.hpp>
#include <poetryops/util/strings.hpp>

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <regex>

namespace poetryops::cli::kubectl {

namespace {

using nlohmann::json;

struct Flags {
    std::string kubeconfig;
    std::string context;
    std::string namespace_;
};

struct Session {
    std::unique_ptr<kube::RestClient> client;
    std::string namespace_;
};

Result<Session> connect(const Flags& flags) {
    kube::ConfigOptions options;
    options.kubeconfig = flags.kubeconfig;
    options.context = flags.context;
    POETRYOPS_TRY(auto cfg, kube::load_config(options));
    POETRYOPS_TRY(auto client,
                  kube::RestClient::create(cfg, {.request_timeout = std::chrono::seconds(30),
                                                 .connect_timeout = std::chrono::seconds(10),
                                                 .user_agent = "kubectl-poetryops/0.1"}));
    Session s;
    s.namespace_ = flags.namespace_.empty() ? cfg.namespace_ : flags.namespace_;
    s.client = std::move(client);
    return s;
}

/// "poetryapps.poetryops.io", "pods/log".
std::string resource_name(const kube::ResourceRef& ref) {
    return ref.resource + (ref.subresource.empty() ? "" : "/" + ref.subresource) +
           (ref.group.empty() ? "" : "." + ref.group);
}

/// An API error in the plugin's words: a forbidden answer names the verb and resource the user
/// lacks.
Error api_error(std::string_view verb, const kube::ResourceRef& ref, Error e) {
    if (kube::is_forbidden(e) || e.http_status == 403) {
        e.message = "forbidden: your kubeconfig's user may not " + std::string(verb) + " " +
                    resource_name(ref) +
                    (ref.namespace_.empty() ? std::string(" across namespaces")
                                            : " in namespace " + ref.namespace_) +
                    " (" + e.message + ")";
    } else if (kube::is_unauthorized(e)) {
        e.message = "unauthorized: the API server did not accept your kubeconfig's credentials (" +
                    e.message + ")";
    }
    return e;
}

/// A 404 for the collection itself: the API server does not serve PoetryApps.
Error no_crd(Error e) {
    e.message =
        "the API server does not serve poetryapps.poetryops.io: the PoetryApp CRD is not "
        "installed (kubectl apply -f crds/poetryops.io_poetryapps.yaml) (" +
        e.message + ")";
    return e;
}

struct LoadedApp {
    api::PoetryApp app;
    std::string resource_version;
};

LoadedApp decode(const json& object) {
    std::vector<api::FieldError> errors;  // what a newer CRD adds is not the plugin's business
    LoadedApp out;
    out.app = api::decode_poetryapp(object, errors);
    if (object.contains("metadata") && object["metadata"].contains("resourceVersion") &&
        object["metadata"]["resourceVersion"].is_string()) {
        out.resource_version = object["metadata"]["resourceVersion"];
    }
    return out;
}

Result<LoadedApp> get_app(Session& s, const std::string& name) {
    auto ref = controller::poetryapps().in(s.namespace_).named(name);
    auto got = s.client->get(ref);
    if (!got) {
        if (kube::is_not_found(got.error())) {
            // The app, or the whole resource? One more request tells them apart.
            auto listed = s.client->list(ref.collection().in(s.namespace_), {.limit = 1});
            if (!listed && kube::is_not_found(listed.error())) return fail(no_crd(listed.error()));
            return fail(Error::Kind::not_found, "PoetryApp " + s.namespace_ + "/" + name +
                                                    " not found (kubectl get poetryapps -n " +
                                                    s.namespace_ + " lists them)");
        }
        return fail(api_error("get", ref, got.error()));
    }
    return decode(*got);
}

/// Writes metadata.annotations as a merge patch that applies only to the version that was read.
Result<void> patch_annotations(Session& s, const LoadedApp& loaded, const json& annotations,
                               std::string_view verb) {
    auto ref = controller::poetryapps().in(s.namespace_).named(loaded.app.metadata.name);
    json body = {{"metadata", {{"annotations", annotations}}}};
    if (!loaded.resource_version.empty())
        body["metadata"]["resourceVersion"] = loaded.resource_version;
    auto done = s.client->patch(ref, kube::PatchType::merge, body);
    if (!done) {
        if (kube::is_conflict(done.error())) {
            return fail(Error::Kind::conflict, "PoetryApp " + loaded.app.key() + " changed while " +
                                                   std::string(verb) +
                                                   " read it; nothing was written, run it again");
        }
        return fail(api_error("patch", ref, done.error()));
    }
    return {};
}

// ---- output ---------------------------------------------------------------------------------

bool colour_out() {
    if (std::getenv("NO_COLOR")) return false;
    const char* term = std::getenv("TERM");
    if (term && std::string_view(term) == "dumb") return false;
    return ::isatty(STDOUT_FILENO) == 1;
}

const char* phase_colour(std::string_view phase) {
    if (phase == "Healthy") return "\033[32m";
    if (phase == "Syncing" || phase == "Promoting") return "\033[33m";
    if (phase.starts_with("Held") || phase == "Failed") return "\033[31m";
    return nullptr;
}

/// kubectl's plain table: upper-case headers, columns three spaces apart, the last unpadded; the
/// column `colour_col` (when >= 0 and on a TTY) coloured by phase.
void print_table(const std::vector<std::string>& headers,
                 const std::vector<std::vector<std::string>>& rows, int colour_col = -1) {
    std::vector<std::size_t> width(headers.size(), 0);
    for (std::size_t c = 0; c < headers.size(); ++c) width[c] = headers[c].size();
    for (const auto& r : rows)
        for (std::size_t c = 0; c < r.size() && c < width.size(); ++c)
            width[c] = std::max(width[c], r[c].size());
    bool colour = colour_col >= 0 && colour_out();
    auto line = [&](const std::vector<std::string>& cells, bool header) {
        std::string out;
        for (std::size_t c = 0; c < cells.size(); ++c) {
            std::string cell = cells[c];
            bool last = c + 1 == cells.size();
            std::string pad = last ? "" : std::string(width[c] - cell.size() + 3, ' ');
            const char* col = colour && !header && static_cast<int>(c) == colour_col
                                  ? phase_colour(cell)
                                  : nullptr;
            out += col ? std::string(col) + cell + "\033[0m" + pad : cell + pad;
        }
        std::cout << out << "\n";
    };
    line(headers, true);
    for (const auto& r : rows) line(r, false);
    std::cout << std::flush;
}

std::string short_digest(const std::string& digest) {
    if (digest.empty()) return "-";
    auto colon = digest.find(':');
    return colon == std::string::npos ? digest.substr(0, 12) : digest.substr(colon + 1, 12);
}

std::string or_dash(const std::string& s) { return s.empty() ? "-" : s; }

/// A table cell keeps rows short: every full "sha256:<64 hex>" becomes its first 12 hex and "…"
/// (`why` and the status keep them whole).
std::string short_digests(std::string text) {
    static const std::regex full("sha256:([0-9a-f]{12})[0-9a-f]{52}");
    return std::regex_replace(text, full, "sha256:$1…");
}

std::string canary_cell(const api::EnvironmentSpec& es, const api::EnvironmentStatus& st) {
    if (!st.canary) return "-";
    const auto& c = *st.canary;
    std::size_t steps = es.canary ? es.canary->steps.size() : 0;
    if (c.phase == api::CanaryPhase::progressing || c.phase == api::CanaryPhase::paused) {
        return std::to_string(c.weight) + "% " + std::to_string(c.step + 1) + "/" +
               std::to_string(steps) +
               (c.phase == api::CanaryPhase::paused ? std::string(" paused") : "");
    }
    return std::string(api::to_string(c.phase));
}

// ---- verbs ----------------------------------------------------------------------------------

Exit run_get(Session& s, const std::string& name, bool all_namespaces) {
    constexpr std::string_view cmd = "get";
    std::vector<LoadedApp> apps;
    if (!name.empty()) {
        auto one = get_app(s, name);
        if (!one) return report(cmd, one.error());
        apps.push_back(std::move(*one));
    } else {
        auto ref = controller::poetryapps().in(all_namespaces ? "" : s.namespace_);
        auto list = s.client->list_all(ref);
        if (!list && kube::is_not_found(list.error())) return report(cmd, no_crd(list.error()));
        if (!list) return report(cmd, api_error("list", ref, list.error()));
        for (const auto& item : list->items) apps.push_back(decode(item));
        std::sort(apps.begin(), apps.end(),
                  [](const LoadedApp& a, const LoadedApp& b) { return a.app.key() < b.app.key(); });
        if (apps.empty()) {
            say(cmd, all_namespaces ? "no PoetryApps in any namespace"
                                    : "no PoetryApps in namespace " + s.namespace_);
            return Exit::ok;
        }
    }
    auto now = std::chrono::system_clock::now();
    std::vector<std::string> headers{"APP",   "ENV",   "VERSION", "DIGEST",
                                     "PHASE", "SINCE", "CANARY",  "WHY"};
    if (all_namespaces) headers.insert(headers.begin(), "NAMESPACE");
    std::vector<std::vector<std::string>> rows;
    for (const auto& l : apps) {
        const api::PoetryApp& app = l.app;
        for (const auto& es : app.spec.environments) {
            const api::EnvironmentStatus* st = app.status.find_environment(es.name);
            std::vector<std::string> row;
            if (all_namespaces) row.push_back(app.metadata.namespace_);
            row.push_back(app.metadata.name);
            row.push_back(es.name);
            if (!st) {
                row.insert(row.end(), {"-", "-", "-", "-", "-", "no status yet"});
            } else {
                std::string phase(api::to_string(st->phase));
                if (st->held && st->phase != api::Phase::held) phase += "(held)";
                row.push_back(or_dash(st->version));
                row.push_back(short_digest(st->digest));
                row.push_back(phase);
                row.push_back(st->since ? age(*st->since, now) : "-");
                row.push_back(canary_cell(es, *st));
                row.push_back(
                    or_dash(short_digests(st->message.empty() ? st->reason : st->message)));
            }
            rows.push_back(std::move(row));
        }
    }
    print_table(headers, rows, all_namespaces ? 5 : 4);
    return Exit::ok;
}

Exit run_why(Session& s, const std::string& name, const std::string& env) {
    constexpr std::string_view cmd = "why";
    auto l = get_app(s, name);
    if (!l) return report(cmd, l.error());
    if (auto es = find_environment(l->app, env); !es) return report(cmd, es.error());
    std::cout << why(l->app, env, std::chrono::system_clock::now()) << "\n" << std::flush;
    return Exit::ok;
}

/// A created PoetryApproval: its name, and the approver the admission webhook stamped ("" without
/// the webhook).
struct CreatedApproval {
    std::string name;
    std::string approver;

    /// "PoetryApproval NAME" or "PoetryApproval NAME, approver alice".
    std::string describe() const {
        return "PoetryApproval " + name + (approver.empty() ? "" : ", approver " + approver);
    }
};

/// Creates a PoetryApproval of `digest` for `env` of the app (metadata.generateName
/// "<app>-<env>-<12 hex>-": the API server picks the rest). The approver is not written: the
/// controller's admission webhook stamps it from the request's identity. nullopt when the API
/// server does not serve poetryapprovals (the CRD is not installed).
Result<std::optional<CreatedApproval>> create_approval(
    Session& s, const api::PoetryApp& app, const std::string& env, const std::string& digest,
    api::ApprovalDecision decision, const std::string& reason, const std::string& comment) {
    api::PoetryApproval a;
    a.metadata.namespace_ = s.namespace_;
    a.metadata.labels = {{"poetryops.io/app", app.metadata.name},
                         {"poetryops.io/environment", env}};
    a.spec.app = app.metadata.name;
    a.spec.environment = env;
    a.spec.digest = digest;
    a.spec.decision = decision;
    a.spec.reason = reason;
    a.spec.comment = comment;
    json object = api::encode_poetryapproval(a);
    object["metadata"].erase("name");
    const std::string hex = digest.substr(digest.find(':') + 1, 12);
    std::string prefix = app.metadata.name + "-" + env;
    // generateName: at most 253 - 5 random characters, and a name the API server accepts.
    if (prefix.size() > 200) prefix.resize(200);
    while (!prefix.empty() && (prefix.back() == '-' || prefix.back() == '.')) prefix.pop_back();
    object["metadata"]["generateName"] = prefix + "-" + hex + "-";
    auto ref = controller::poetryapprovals().in(s.namespace_);
    auto created = s.client->create(ref, object);
    if (!created) {
        if (kube::is_not_found(created.error())) return std::optional<CreatedApproval>();
        return fail(api_error("create", ref, created.error()));
    }
    return std::optional<CreatedApproval>(
        CreatedApproval{created->value("/metadata/name"_json_pointer, std::string()),
                        created->value("/spec/approver"_json_pointer, std::string())});
}

Exit run_approve(Session& s, const std::string& name, const std::string& env,
                 const std::string& digest, const std::string& comment, bool annotation) {
    constexpr std::string_view cmd = "approve";
    auto l = get_app(s, name);
    if (!l) return report(cmd, l.error());
    auto target = approval_target(l->app, env, digest);
    if (!target) return report(cmd, target.error());
    if (!annotation) {
        auto created = create_approval(s, l->app, env, target->digest,
                                       api::ApprovalDecision::approve, "", comment);
        if (!created) return report(cmd, created.error());
        if (*created) {
            std::cout << "approved " << describe(target->version, target->digest) << " for " << env
                      << " of " << l->app.key() << " (" << (*created)->describe() << ")\n"
                      << std::flush;
            return Exit::ok;
        }
        // The API server has no PoetryApproval CRD: the annotation is the approval it can take.
        std::cerr << "kubectl poetryops approve: the API server does not serve "
                     "poetryapprovals.poetryops.io (CRD not installed): writing the annotation "
                     "instead, one approver of unknown identity\n";
    }
    json ann = {{std::string(api::kApproveAnnotationPrefix) + env, target->digest}};
    if (auto done = patch_annotations(s, *l, ann, cmd); !done) return report(cmd, done.error());
    std::cout << "approved " << describe(target->version, target->digest) << " for " << env
              << " of " << l->app.key() << " (" << api::kApproveAnnotationPrefix << env << "="
              << target->digest << ")\n"
              << std::flush;
    return Exit::ok;
}

Exit run_reject(Session& s, const std::string& name, const std::string& env,
                const std::string& digest, const std::string& reason) {
    constexpr std::string_view cmd = "reject";
    if (str::trim(reason).empty())
        return report_bad_input(cmd, "--reason is required: say why the digest is rejected");
    auto l = get_app(s, name);
    if (!l) return report(cmd, l.error());
    auto target = rejection_target(l->app, env, digest);
    if (!target) return report(cmd, target.error());
    auto created = create_approval(s, l->app, env, target->digest, api::ApprovalDecision::reject,
                                   std::string(str::trim(reason)), "");
    if (!created) return report(cmd, created.error());
    if (!*created) {
        return report(cmd,
                      Error::make(Error::Kind::not_found,
                                  "the API server does not serve poetryapprovals.poetryops.io: "
                                  "the PoetryApproval CRD is not installed (kubectl apply -f "
                                  "crds/poetryops.io_poetryapprovals.yaml); nothing was "
                                  "written"));
    }
    std::cout << "rejected " << describe(target->version, target->digest) << " for " << env
              << " of " << l->app.key() << " (" << (*created)->describe()
              << "): it is not promoted there while that object exists\n"
              << std::flush;
    return Exit::ok;
}

Exit run_change(Session& s, std::string_view cmd, const std::string& name, const std::string& env,
                bool hold, const std::string& reason = {}) {
    auto l = get_app(s, name);
    if (!l) return report(cmd, l.error());
    auto change = hold ? hold_change(l->app, env, reason) : release_change(l->app, env);
    if (!change) return report(cmd, change.error());
    if (auto done = patch_annotations(s, *l, change->annotations, cmd); !done)
        return report(cmd, done.error());
    for (const auto& e : change->effects) std::cout << e << "\n";
    std::cout << std::flush;
    return Exit::ok;
}

Exit run_rollback(Session& s, const std::string& name, const std::string& env,
                  const std::string& digest, bool previous) {
    constexpr std::string_view cmd = "rollback";
    if (digest.empty() == !previous) {
        return report_bad_input(cmd, digest.empty()
                                         ? "name the DIGEST to roll back to, or --previous"
                                         : "give a DIGEST or --previous, not both");
    }
    auto l = get_app(s, name);
    if (!l) return report(cmd, l.error());
    auto target = rollback_target(l->app, env, digest);
    if (!target) return report(cmd, target.error());
    json ann = {{std::string(api::kRollbackAnnotationPrefix) + env, target->digest}};
    if (auto done = patch_annotations(s, *l, ann, cmd); !done) return report(cmd, done.error());
    std::cout << "rolling back " << env << " of " << l->app.key() << " to "
              << describe(target->version, target->digest) << " (" << api::kRollbackAnnotationPrefix
              << env << "=" << target->digest << "); it stays "
              << "there until `kubectl poetryops release " << name << " " << env << "`\n"
              << std::flush;
    return Exit::ok;
}

Exit run_history(Session& s, const std::string& name, const std::string& env) {
    constexpr std::string_view cmd = "history";
    auto l = get_app(s, name);
    if (!l) return report(cmd, l.error());
    if (!env.empty()) {
        if (auto es = find_environment(l->app, env); !es) return report(cmd, es.error());
    }
    std::vector<std::vector<std::string>> rows;
    for (const auto& h : l->app.status.history) {
        if (!env.empty() && h.environment != env) continue;
        rows.push_back({h.time ? format_rfc3339(*h.time) : "-", h.environment,
                        std::string(api::to_string(h.kind)), or_dash(h.version),
                        short_digest(h.digest), h.commit.empty() ? "-" : h.commit.substr(0, 7),
                        or_dash(h.reason)});
    }
    if (rows.empty()) {
        say(cmd, "no history for " + l->app.key() + (env.empty() ? "" : " in " + env));
        return Exit::ok;
    }
    print_table({"TIME", "ENV", "KIND", "VERSION", "DIGEST", "COMMIT", "REASON"}, rows);
    return Exit::ok;
}

std::string created_at(const json& o) {
    const json* m = o.contains("metadata") ? &o["metadata"] : nullptr;
    if (m && m->contains("creationTimestamp") && (*m)["creationTimestamp"].is_string())
        return (*m)["creationTimestamp"];
    return {};
}

std::string name_of(const json& o) {
    return o.contains("metadata") && o["metadata"].contains("name")
               ? o["metadata"]["name"].get<std::string>()
               : std::string();
}

/// The newest object by creationTimestamp (RFC 3339 in UTC sorts as text), then name.
const json* newest(const std::vector<const json*>& objects) {
    const json* best = nullptr;
    for (const json* o : objects) {
        if (!best || std::make_pair(created_at(*o), name_of(*o)) >
                         std::make_pair(created_at(*best), name_of(*best)))
            best = o;
    }
    return best;
}

Exit run_logs(Session& s, const std::string& name, bool build, const std::string& container,
              std::int64_t tail) {
    constexpr std::string_view cmd = "logs";
    if (!build) {
        return report_bad_input(cmd,
                                "logs needs --build (the build Job's log); the app's own "
                                "Pods: kubectl logs");
    }
    auto l = get_app(s, name);
    if (!l) return report(cmd, l.error());
    const std::string selector = std::string(build::kAppLabel) + "=" + build::app_label(name);
    auto jobs_ref = kube::resources::jobs().in(s.namespace_);
    auto jobs = s.client->list_all(jobs_ref, {.label_selector = selector});
    if (!jobs) return report(cmd, api_error("list", jobs_ref, jobs.error()));
    std::vector<const json*> ours;
    for (const auto& j : jobs->items) {
        // The label may be cut and hashed for long names: the annotation names the app exactly.
        auto ann = j.value("/metadata/annotations"_json_pointer, json::object());
        auto key = ann.value(std::string(build::kAppAnnotation), std::string());
        if (key.empty() || key == l->app.key()) ours.push_back(&j);
    }
    const json* job = newest(ours);
    if (!job) {
        say(cmd, "no build Job of " + l->app.key() + " (Jobs labelled " + selector +
                     "): it has not built yet, or finished Jobs were deleted after the "
                     "controller's --build-ttl-seconds; status.builds keeps the record");
        return Exit::findings;
    }
    const std::string job_name = name_of(*job);
    auto pods_ref = kube::resources::pods().in(s.namespace_);
    auto pods = s.client->list_all(pods_ref, {.label_selector = selector});
    if (!pods) return report(cmd, api_error("list", pods_ref, pods.error()));
    std::vector<const json*> of_job;
    for (const auto& p : pods->items) {
        for (const auto& owner : p.value("/metadata/ownerReferences"_json_pointer, json::array())) {
            if (owner.value("kind", "") == "Job" && owner.value("name", "") == job_name)
                of_job.push_back(&p);
        }
    }
    const json* pod = newest(of_job);
    if (!pod) {
        say(cmd, "build Job " + job_name +
                     " has no Pod yet (a Job beyond the controller's "
                     "--max-concurrent-builds waits suspended)");
        return Exit::findings;
    }
    const std::string pod_name = name_of(*pod);
    auto log_ref = kube::resources::pods().in(s.namespace_).named(pod_name);
    auto text = s.client->logs(log_ref, {.container = container, .tail_lines = tail});
    if (!text) {
        Error e = api_error("get", log_ref.sub("log"), text.error());
        if (!kube::is_forbidden(text.error())) {
            e.message = "cannot read the log of container " + container + " of Pod " + pod_name +
                        " (build Job " + job_name + "): " + e.message;
        }
        return report(cmd, e);
    }
    if (text->empty()) {
        // The API server answers an empty log for a Pod no node has started: say why.
        std::string phase = pod->value("/status/phase"_json_pointer, std::string("Pending"));
        std::string waiting;
        for (const auto& c : pod->value("/status/conditions"_json_pointer, json::array())) {
            if (c.value("status", "") == "False" && !c.value("message", "").empty())
                waiting = c.value("reason", "") + ": " + c.value("message", "");
        }
        say(cmd, "the log of container " + container + " of Pod " + pod_name + " (build Job " +
                     job_name + ") is empty; the Pod is " + phase +
                     (waiting.empty() ? std::string() : " (" + waiting + ")"));
        return phase == "Pending" ? Exit::findings : Exit::ok;
    }
    std::cout << *text;
    if (text->back() != '\n') std::cout << "\n";
    std::cout << std::flush;
    return Exit::ok;
}

/// Runs `verb` after connecting; a kubeconfig that cannot be loaded is bad input.
template <class F>
void with_session(Context& ctx, std::string_view cmd, const Flags& flags, F verb) {
    auto s = connect(flags);
    if (!s) {
        ctx.exit = report(cmd, s.error(), Exit::bad_input);
        return;
    }
    ctx.exit = verb(*s);
}

}  // namespace

void add_kubectl_commands(CLI::App& app, Context& ctx) {
    auto flags = std::make_shared<Flags>();
    app.add_option("--kubeconfig", flags->kubeconfig,
                   "kubeconfig file (default: $KUBECONFIG, in-cluster config, ~/.kube/config)");
    app.add_option("--context", flags->context, "kubeconfig context (default: current-context)");
    app.add_option("-n,--namespace", flags->namespace_,
                   "namespace (default: the context's namespace)");
    // kubectl passes its flags after the verb as well: let the root parse them anywhere.
    app.fallthrough();

    struct Args {
        std::string app, env, digest, reason, container = std::string(build::kBuildContainer);
        std::string comment;
        bool all_namespaces = false, previous = false, build = false, annotation = false;
        std::int64_t tail = 0;
    };
    auto a = std::make_shared<Args>();

    CLI::App* get = app.add_subcommand(
        "get", "Per app and environment: version, digest, phase, since, why, canary step");
    get->add_option("APP", a->app, "one PoetryApp (default: all in the namespace)");
    get->add_flag("-A,--all-namespaces", a->all_namespaces, "PoetryApps of every namespace");
    get->callback([&ctx, flags, a] {
        with_session(ctx, "get", *flags,
                     [&](Session& s) { return run_get(s, a->app, a->all_namespaces); });
    });

    CLI::App* w = app.add_subcommand(
        "why", "Why the next digest is not promoted into ENV yet: the gate that waits, until when");
    w->add_option("APP", a->app, "the PoetryApp")->required();
    w->add_option("ENV", a->env, "the environment")->required();
    w->callback([&ctx, flags, a] {
        with_session(ctx, "why", *flags, [&](Session& s) { return run_why(s, a->app, a->env); });
    });

    CLI::App* approve = app.add_subcommand(
        "approve",
        "Approve the digest waiting for approval in ENV: creates a PoetryApproval (who you are "
        "is recorded by the API server); the annotation poetryops.io/approve.<env> without the "
        "CRD");
    approve->add_option("APP", a->app, "the PoetryApp")->required();
    approve->add_option("ENV", a->env, "the environment")->required();
    approve->add_option("DIGEST", a->digest,
                        "sha256:… (default: the digest waiting; any other is refused)");
    approve->add_option("--comment", a->comment, "a note kept in the PoetryApproval");
    approve->add_flag("--annotation", a->annotation,
                      "write the annotation poetryops.io/approve.<env> instead of a "
                      "PoetryApproval (one approver of unknown identity)");
    approve->callback([&ctx, flags, a] {
        with_session(ctx, "approve", *flags, [&](Session& s) {
            return run_approve(s, a->app, a->env, a->digest, a->comment, a->annotation);
        });
    });

    CLI::App* reject = app.add_subcommand(
        "reject",
        "Reject a digest for ENV (a PoetryApproval with decision reject): it is not "
        "promoted there while the PoetryApproval exists");
    reject->add_option("APP", a->app, "the PoetryApp")->required();
    reject->add_option("ENV", a->env, "the environment")->required();
    reject->add_option("DIGEST", a->digest, "sha256:… (default: the digest waiting in ENV)");
    reject->add_option("--reason", a->reason, "why (required; shown in the app's status)");
    reject->callback([&ctx, flags, a] {
        with_session(ctx, "reject", *flags, [&](Session& s) {
            return run_reject(s, a->app, a->env, a->digest, a->reason);
        });
    });

    CLI::App* hold = app.add_subcommand(
        "hold",
        "Hold ENV on what it runs (poetryops.io/hold.<env>) and pause its canary in progress");
    hold->add_option("APP", a->app, "the PoetryApp")->required();
    hold->add_option("ENV", a->env, "the environment")->required();
    hold->add_option("--reason", a->reason, "why, kept in the annotation");
    hold->callback([&ctx, flags, a] {
        with_session(ctx, "hold", *flags, [&](Session& s) {
            return run_change(s, "hold", a->app, a->env, true, a->reason);
        });
    });

    CLI::App* release =
        app.add_subcommand("release",
                           "Release ENV: a hold (the annotation, or an edit in git), a rollback "
                           "pin, a paused canary");
    release->add_option("APP", a->app, "the PoetryApp")->required();
    release->add_option("ENV", a->env, "the environment")->required();
    release->callback([&ctx, flags, a] {
        with_session(ctx, "release", *flags,
                     [&](Session& s) { return run_change(s, "release", a->app, a->env, false); });
    });

    CLI::App* rollback = app.add_subcommand(
        "rollback", "Re-pin a digest ENV ran before (poetryops.io/rollback.<env>)");
    rollback->add_option("APP", a->app, "the PoetryApp")->required();
    rollback->add_option("ENV", a->env, "the environment")->required();
    rollback->add_option("DIGEST", a->digest, "sha256:… from ENV's history");
    rollback->add_flag("--previous", a->previous,
                       "the digest ENV ran before the current one (status.history)");
    rollback->callback([&ctx, flags, a] {
        with_session(ctx, "rollback", *flags, [&](Session& s) {
            return run_rollback(s, a->app, a->env, a->digest, a->previous);
        });
    });

    CLI::App* history =
        app.add_subcommand("history", "Promotions, rollbacks and canary steps, newest first");
    history->add_option("APP", a->app, "the PoetryApp")->required();
    history->add_option("ENV", a->env, "only this environment");
    history->callback([&ctx, flags, a] {
        with_session(ctx, "history", *flags,
                     [&](Session& s) { return run_history(s, a->app, a->env); });
    });

    CLI::App* logs = app.add_subcommand("logs", "The log of the app's newest build Job");
    logs->add_option("APP", a->app, "the PoetryApp")->required();
    logs->add_flag("--build", a->build, "the build Job's log (required)");
    logs->add_option("-c,--container", a->container, "prepare or build")->capture_default_str();
    logs->add_option("--tail", a->tail, "only the last N lines (0: all)");
    logs->callback([&ctx, flags, a] {
        with_session(ctx, "logs", *flags, [&](Session& s) {
            return run_logs(s, a->app, a->build, a->container, a->tail);
        });
    });
}

}  // namespace poetryops::cli::kubectl
