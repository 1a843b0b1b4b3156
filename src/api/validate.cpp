// Semantic validation of a decoded PoetryApp: the rules the CRD's schema and CEL rules state, and a
// few the API server cannot check (URL, path and template shapes). Every problem carries its field
// path.
#include <poetryops/api/validation.hpp>

#include <poetryops/schedule/window.hpp>

#include <algorithm>
#include <cctype>
#include <map>

namespace poetryops::api {

namespace {

// True when a query template holds the placeholder {{canary}} (spaces inside the braces allowed,
// as prometheus::render_query reads it).
bool mentions_canary(std::string_view query) {
    for (std::size_t open = query.find("{{"); open != std::string_view::npos;
         open = query.find("{{", open + 2)) {
        std::size_t close = query.find("}}", open + 2);
        if (close == std::string_view::npos) return false;
        std::string_view inside = query.substr(open + 2, close - open - 2);
        while (!inside.empty() && (inside.front() == ' ' || inside.front() == '\t'))
            inside.remove_prefix(1);
        while (!inside.empty() && (inside.back() == ' ' || inside.back() == '\t'))
            inside.remove_suffix(1);
        if (inside == "canary") return true;
    }
    return false;
}

constexpr std::size_t kMaxWindows = 20;
constexpr std::chrono::milliseconds kMaxWindowLength = std::chrono::hours(24 * 366);

struct Validator {
    std::vector<FieldError> errors;

    void error(std::string path, std::string message) {
        errors.push_back({std::move(path), std::move(message)});
    }
    void check(const std::string& path, const std::string& problem) {
        if (!problem.empty()) error(path, problem);
    }

    void duration(const std::string& path, Duration& d, std::chrono::milliseconds min) {
        auto v = parse_duration(d.text);
        if (!v) {
            error(path,
                  "\"" + d.text + "\" is not a duration (examples: \"30s\", \"10m\", \"1h30m\")");
            return;
        }
        d.value = *v;
        if (*v < min) error(path, "must be at least " + format_duration(min));
    }

    /// promotion.windows: each rule parses (the error names the character), each zone exists.
    void windows(const std::string& path, std::vector<PromotionWindow>& list) {
        if (list.size() > kMaxWindows)
            error(path, "at most " + std::to_string(kMaxWindows) + " windows");
        for (std::size_t i = 0; i < list.size(); ++i) {
            PromotionWindow& w = list[i];
            const std::string wp = path + "[" + std::to_string(i) + "]";
            if (w.rrule.empty()) {
                error(wp + ".rrule",
                      "is required, e.g. \"FREQ=WEEKLY;BYDAY=MO,TU,WE,TH;BYHOUR=9\"");
            } else if (auto r = schedule::parse_rrule(w.rrule); !r) {
                error(wp + ".rrule", "\"" + w.rrule + "\" " + r.error().message);
            }
            if (w.duration.text.empty()) {
                error(wp + ".duration",
                      "is required: how long each occurrence is open, e.g. \"1h\"");
            } else {
                duration(wp + ".duration", w.duration, std::chrono::minutes(1));
                if (w.duration.value > kMaxWindowLength)
                    error(wp + ".duration",
                          "must be at most " + format_duration(kMaxWindowLength) + " (366 days)");
            }
            check(wp + ".timezone", schedule::check_zone(w.timezone));
        }
    }

    void secret_ref(const std::string& path, const std::optional<SecretRef>& ref) {
        if (ref && !is_dns1123_subdomain(ref->name)) {
            error(path + ".secretRef.name",
                  ref->name.empty() ? "is required"
                                    : "\"" + ref->name + "\" is not a valid Secret name");
        }
    }

    /// A `secretKeyRef` ({name, key}) at `path` (".secretKeyRef" appended).
    void secret_key_ref(const std::string& path, const SecretKeyRef& ref) {
        const std::string p = path + ".secretKeyRef";
        if (!is_dns1123_subdomain(ref.name)) {
            error(p + ".name", ref.name.empty()
                                   ? "is required"
                                   : "\"" + ref.name + "\" is not a valid Secret name");
        }
        // A Secret's data keys: [-._a-zA-Z0-9]+ (at most 253 characters).
        const bool key_ok = !ref.key.empty() && ref.key.size() <= 253 && ref.key != "." &&
                            ref.key != ".." &&
                            std::all_of(ref.key.begin(), ref.key.end(), [](char c) {
                                return std::isalnum(static_cast<unsigned char>(c)) || c == '-' ||
                                       c == '_' || c == '.';
                            });
        if (!key_ok) {
            error(p + ".key", ref.key.empty() ? "is required"
                                              : "\"" + ref.key + "\" is not a valid Secret key");
        }
    }

    void notification(const NotificationSpec& n, std::size_t i,
                      std::map<std::string, std::size_t>& seen) {
        const std::string p = "spec.notifications[" + std::to_string(i) + "]";
        if (n.name.empty()) {
            error(p + ".name", "is required");
        } else if (!is_dns1123_label(n.name)) {
            error(p + ".name", "\"" + n.name +
                                   "\" is not a DNS-1123 label (lower case letters, digits and "
                                   "'-', at most 63)");
        } else if (auto [it, fresh] = seen.emplace(n.name, i); !fresh) {
            error(p + ".name", "\"" + n.name + "\" is also the name of spec.notifications[" +
                                   std::to_string(it->second) + "]");
        }
        secret_key_ref(p + ".urlFrom", n.url_from);
        if (n.hmac_key_from) {
            if (n.type != NotificationType::webhook) {
                error(p + ".hmacKeyFrom", "only webhook targets are signed (type is " +
                                              std::string(api::to_string(n.type)) + ")");
            } else {
                secret_key_ref(p + ".hmacKeyFrom", *n.hmac_key_from);
            }
        }
        if (n.events.empty()) {
            error(p + ".events", "must name at least one event (leave it out for all of them)");
        }
        for (std::size_t j = 0; j < n.events.size(); ++j) {
            if (std::find(n.events.begin(), n.events.begin() + static_cast<std::ptrdiff_t>(j),
                          n.events[j]) != n.events.begin() + static_cast<std::ptrdiff_t>(j)) {
                error(p + ".events[" + std::to_string(j) + "]",
                      "\"" + std::string(api::to_string(n.events[j])) + "\" is listed twice");
            }
        }
    }

    void git_ref(const std::string& path, const std::string& ref) {
        if (ref.empty()) return error(path, "must not be empty");
        bool bad = ref.size() > 255 || ref.front() == '-' || ref.front() == '/' ||
                   ref.back() == '/' || ref.back() == '.' || ref == "@" ||
                   ref.find("..") != std::string::npos || ref.find("@{") != std::string::npos ||
                   ref.find("//") != std::string::npos ||
                   (ref.size() >= 5 && ref.compare(ref.size() - 5, 5, ".lock") == 0);
        for (char c : ref) {
            if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f || c == '~' || c == '^' ||
                c == ':' || c == '?' || c == '*' || c == '[' || c == '\\')
                bad = true;
        }
        if (bad) error(path, "\"" + ref + "\" is not a valid git branch or tag name");
    }

    void k8s_name(const std::string& path, const std::string& name, bool label) {
        if (name.empty()) return error(path, "is required");
        if (label ? !is_dns1123_label(name) : !is_dns1123_subdomain(name)) {
            error(path, "\"" + name + "\" is not a valid " +
                            (label ? "DNS-1123 label" : "Kubernetes name") +
                            " (lower-case letters, digits and '-'" + (label ? "" : ", '.'") + ")");
        }
    }

    void helm_path(const std::string& path, const std::string& value) {
        if (value.empty()) return;
        bool ok =
            value.front() != '.' && value.back() != '.' && value.find("..") == std::string::npos;
        for (char c : value) {
            if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-'))
                ok = false;
        }
        if (!ok) error(path, "\"" + value + "\" is not a dotted values path such as \"image.tag\"");
    }

    void environment(const PoetryAppSpec& spec, EnvironmentSpec& env, std::size_t i,
                     std::map<std::string, std::size_t>& seen);
    void canary(const std::string& path, CanarySpec& c);
};

void Validator::environment(const PoetryAppSpec& spec, EnvironmentSpec& env, std::size_t i,
                            std::map<std::string, std::size_t>& seen) {
    const std::string p = "spec.environments[" + std::to_string(i) + "]";
    if (env.name.empty()) {
        error(p + ".name", "is required");
    } else if (!is_dns1123_label(env.name)) {
        error(p + ".name", "\"" + env.name +
                               "\" is not a DNS-1123 label (lower-case letters, digits and '-', "
                               "at most 63 characters)");
    } else if (auto [it, fresh] = seen.emplace(env.name, i); !fresh) {
        error(p + ".name", "duplicate environment \"" + env.name + "\" (also spec.environments[" +
                               std::to_string(it->second) + "])");
    }
    if (env.path.empty()) {
        error(p + ".path", "is required");
    } else {
        check(p + ".path", check_repo_path(env.path));
    }

    const std::string up = p + ".update";
    if (!env.update.file.empty()) check(up + ".file", check_repo_path(env.update.file));
    if (!env.update.image.empty() && env.update.image.find_first_of(" \t\n@") != std::string::npos)
        error(up + ".image", "must be an image name without spaces or digest");
    if (env.update.kind != UpdateKind::helm) {
        if (!env.update.tag.empty()) error(up + ".tag", "is only used with kind \"helm\"");
        if (!env.update.digest.empty()) error(up + ".digest", "is only used with kind \"helm\"");
    }
    if (env.update.kind != UpdateKind::manifest && !env.update.container.empty())
        error(up + ".container", "is only used with kind \"manifest\"");
    helm_path(up + ".tag", env.update.tag);
    helm_path(up + ".digest", env.update.digest);
    if (!env.update.tag.empty() && env.update.tag == env.update.digest)
        error(up + ".digest", "must differ from update.tag");
    if (!env.update.container.empty() && !is_dns1123_label(env.update.container))
        error(up + ".container", "\"" + env.update.container + "\" is not a valid container name");

    const std::string pp = p + ".promotion";
    const std::string& from = env.promotion.from;
    if (!from.empty()) {
        if (i == 0) {
            error(pp + ".from",
                  "must be empty in the first environment (it takes new images directly)");
        } else if (from == env.name) {
            error(pp + ".from", "names the environment itself");
        } else {
            std::ptrdiff_t at = -1;
            for (std::size_t j = 0; j < spec.environments.size(); ++j) {
                if (spec.environments[j].name == from) {
                    at = static_cast<std::ptrdiff_t>(j);
                    break;
                }
            }
            if (at < 0) {
                error(pp + ".from",
                      "names \"" + from + "\", which is not an environment of this app");
            } else if (static_cast<std::size_t>(at) > i) {
                error(pp + ".from",
                      "names \"" + from +
                          "\", which is not an earlier environment (list environments "
                          "in promotion order)");
            }
        }
    }
    duration(pp + ".soak", env.promotion.soak, std::chrono::milliseconds(0));
    const ApprovalSpec& approval = env.promotion.approval;
    if (approval.approvers < 1 || approval.approvers > 20)
        error(pp + ".approval.approvers", "must be within 1..20");
    for (std::size_t g = 0; g < approval.groups.size(); ++g) {
        if (approval.groups[g].empty() || approval.groups[g].size() > 253)
            error(pp + ".approval.groups[" + std::to_string(g) + "]",
                  "must be a group name of 1..253 characters");
    }
    windows(pp + ".windows", env.promotion.windows);

    const std::string hp = p + ".health";
    HealthSpec& h = env.health;
    int gates = (h.argocd ? 1 : 0) + (h.flux ? 1 : 0) + (h.deployment ? 1 : 0);
    if (gates > 1) error(hp, "set at most one of argocd, flux and deployment");
    if (h.argocd) {
        k8s_name(hp + ".argocd.application", h.argocd->application, false);
        k8s_name(hp + ".argocd.namespace", h.argocd->namespace_, true);
    }
    if (h.flux) {
        k8s_name(hp + ".flux.kustomization", h.flux->kustomization, false);
        k8s_name(hp + ".flux.namespace", h.flux->namespace_, true);
    }
    if (h.deployment) {
        k8s_name(hp + ".deployment.name", h.deployment->name, false);
        if (!h.deployment->namespace_.empty())
            k8s_name(hp + ".deployment.namespace", h.deployment->namespace_, true);
    }
    duration(hp + ".timeout", h.timeout, std::chrono::seconds(1));

    if (env.canary) canary(p + ".canary", *env.canary);
}

void Validator::canary(const std::string& cp, CanarySpec& c) {
    const std::string tp = cp + ".traffic";
    k8s_name(tp + ".route", c.traffic.route, false);
    k8s_name(tp + ".stable", c.traffic.stable, false);
    k8s_name(tp + ".canary", c.traffic.canary, false);
    if (!c.traffic.stable.empty() && c.traffic.stable == c.traffic.canary)
        error(tp + ".canary", "must differ from traffic.stable");
    if (!c.traffic.file.empty()) check(tp + ".file", check_repo_path(c.traffic.file));
    if (!c.traffic.namespace_.empty()) k8s_name(tp + ".namespace", c.traffic.namespace_, true);
    if (!c.workload.empty()) k8s_name(cp + ".workload", c.workload, false);

    if (c.steps.empty()) error(cp + ".steps", "must have at least one step");
    if (c.steps.size() > 20) error(cp + ".steps", "must have at most 20 steps");
    int previous = 0;
    for (std::size_t s = 0; s < c.steps.size(); ++s) {
        const std::string sp = cp + ".steps[" + std::to_string(s) + "]";
        int w = c.steps[s].weight;
        if (w < 1 || w > 100) {
            error(sp + ".weight", std::to_string(w) + " is outside 1..100");
        } else if (w <= previous) {
            error(sp + ".weight", std::to_string(w) + " is not greater than the previous step's " +
                                      std::to_string(previous) +
                                      " (weights must strictly increase)");
        }
        if (w >= 1 && w <= 100) previous = std::max(previous, w);
        duration(sp + ".pause", c.steps[s].pause, std::chrono::milliseconds(0));
    }

    if (!c.analysis) return;
    AnalysisSpec& a = *c.analysis;
    const std::string ap = cp + ".analysis";
    check(ap + ".prometheus.address", check_http_url(a.prometheus.address));
    secret_ref(ap + ".prometheus", a.prometheus.secret_ref);
    const bool compare = a.judge == CanaryJudge::compare;
    if (a.metrics.empty()) error(ap + ".metrics", "must have at least one metric");
    std::map<std::string, std::size_t> names;
    for (std::size_t m = 0; m < a.metrics.size(); ++m) {
        const MetricSpec& metric = a.metrics[m];
        const std::string mp = ap + ".metrics[" + std::to_string(m) + "]";
        if (metric.name.empty()) {
            error(mp + ".name", "is required");
        } else if (!is_dns1123_label(metric.name)) {
            error(mp + ".name", "\"" + metric.name + "\" is not a DNS-1123 label");
        } else if (auto [it, fresh] = names.emplace(metric.name, m); !fresh) {
            error(mp + ".name", "duplicate metric \"" + metric.name + "\" (also " + ap +
                                    ".metrics[" + std::to_string(it->second) + "])");
        }
        bool builtin = metric.name == "success-rate" || metric.name == "latency-p99-ms";
        if (metric.query.empty() && !builtin && !metric.name.empty())
            error(mp + ".query", "is required for metric \"" + metric.name +
                                     "\" (built-in metrics: success-rate, latency-p99-ms)");
        // compare judges a metric against the baseline: bounds are optional there.
        if (!metric.min && !metric.max && !compare)
            error(mp, "set min, max or both (judge threshold)");
        // compare measures the baseline by rendering the query with {{canary}} set to the stable
        // Service; a query that does not select through {{canary}} would compare it with itself.
        if (compare && !metric.query.empty() && !mentions_canary(metric.query))
            error(mp + ".query",
                  "with judge compare the query must select the canary through {{canary}} (the "
                  "baseline is the same query with {{canary}} set to the stable Service)");
        if (metric.min && metric.max && *metric.min > *metric.max)
            error(mp + ".min", "is greater than max");
        if (metric.query.empty() && metric.name == "success-rate") {
            if (metric.min && (*metric.min < 0 || *metric.min > 1))
                error(mp + ".min", "success-rate is a ratio in 0..1");
            if (metric.max && (*metric.max < 0 || *metric.max > 1))
                error(mp + ".max", "success-rate is a ratio in 0..1");
        }
    }
    duration(ap + ".interval", a.interval, std::chrono::seconds(1));
    if (a.min_requests < 0) error(ap + ".minRequests", "must not be negative");
    if (a.failure_limit < 1 || a.failure_limit > 100)
        error(ap + ".failureLimit", "must be within 1..100");
    if (a.inconclusive_limit < 1 || a.inconclusive_limit > 100)
        error(ap + ".inconclusiveLimit", "must be within 1..100");
    // Written so that NaN fails too.
    if (!(a.tolerance > 0 && a.tolerance <= 1))
        error(ap + ".tolerance", "must be greater than 0 and at most 1");
    if (!(a.confidence > 0.5 && a.confidence < 1))
        error(ap + ".confidence", "must be greater than 0.5 and less than 1 (e.g. 0.98)");
}

}  // namespace

std::string FieldError::str() const { return path.empty() ? message : path + ": " + message; }

std::string join_errors(const std::vector<FieldError>& errors, std::size_t max) {
    std::string out;
    for (std::size_t i = 0; i < errors.size() && i < max; ++i) {
        if (i) out += "; ";
        out += errors[i].str();
    }
    if (errors.size() > max) out += "; and " + std::to_string(errors.size() - max) + " more";
    return out;
}

std::vector<FieldError> validate_spec(PoetryAppSpec& spec) {
    Validator v;
    if (spec.source) {
        SourceSpec& s = *spec.source;
        v.check("spec.source.repoURL", check_git_url(s.repo_url));
        v.git_ref("spec.source.ref", s.ref);
        v.check("spec.source.path", check_repo_path(s.path));
        v.secret_ref("spec.source", s.secret_ref);
        v.duration("spec.source.pollInterval", s.poll_interval, std::chrono::seconds(1));
    }
    v.check("spec.image.repository", check_image_repository(spec.image.repository));
    v.secret_ref("spec.image", spec.image.secret_ref);
    v.check("spec.image.tagTemplate", check_tag_template(spec.image.tag_template));
    v.check("spec.image.policy.versions", check_version_specifiers(spec.image.policy.versions));
    v.duration("spec.image.policy.pollInterval", spec.image.policy.poll_interval,
               std::chrono::seconds(1));
    if (spec.build) {
        BuildSpec& b = *spec.build;
        if (!spec.source)
            v.error("spec.source", "is required when spec.build is set (what would be built?)");
        if (b.dockerfile != "generate")
            v.check("spec.build.dockerfile", check_repo_path(b.dockerfile));
        if (!b.python.empty()) {
            bool ok = b.python.size() >= 3 && b.python.size() <= 5 &&
                      b.python.compare(0, 2, "3.") == 0 &&
                      std::all_of(b.python.begin() + 2, b.python.end(),
                                  [](char c) { return c >= '0' && c <= '9'; });
            if (!ok)
                v.error("spec.build.python",
                        "\"" + b.python + "\" is not a Python 3 minor version such as \"3.12\"");
        }
        if (!b.poetry.empty()) {
            int dots = 0;
            bool ok = b.poetry.front() >= '0' && b.poetry.front() <= '9' && b.poetry.back() != '.';
            for (char c : b.poetry) {
                if (c == '.')
                    ++dots;
                else if (c < '0' || c > '9')
                    ok = false;
            }
            if (!ok || dots < 1 || dots > 2)
                v.error("spec.build.poetry",
                        "\"" + b.poetry + "\" is not a Poetry version such as \"1.8.3\"");
        }
        v.duration("spec.build.timeout", b.timeout, std::chrono::seconds(1));
    }
    v.check("spec.gitops.repoURL", check_git_url(spec.gitops.repo_url));
    v.git_ref("spec.gitops.branch", spec.gitops.branch);
    v.secret_ref("spec.gitops", spec.gitops.secret_ref);

    if (spec.environments.empty())
        v.error("spec.environments", "must list at least one environment");
    if (spec.environments.size() > 20)
        v.error("spec.environments", "must list at most 20 environments");
    std::map<std::string, std::size_t> seen;
    for (std::size_t i = 0; i < spec.environments.size(); ++i)
        v.environment(spec, spec.environments[i], i, seen);

    if (spec.history_limit < 1 || spec.history_limit > 100)
        v.error("spec.historyLimit", "must be within 1..100");
    if (spec.notifications.size() > 10)
        v.error("spec.notifications", "must list at most 10 targets");
    std::map<std::string, std::size_t> targets;
    for (std::size_t i = 0; i < spec.notifications.size(); ++i)
        v.notification(spec.notifications[i], i, targets);
    return std::move(v.errors);
}

std::vector<FieldError> validate(PoetryApp& app) {
    std::vector<FieldError> errors;
    if (app.metadata.name.empty()) {
        errors.push_back({"metadata.name", "is required"});
    } else if (!is_dns1123_subdomain(app.metadata.name)) {
        errors.push_back(
            {"metadata.name", "\"" + app.metadata.name + "\" is not a valid Kubernetes name"});
    }
    auto spec_errors = validate_spec(app.spec);
    errors.insert(errors.end(), spec_errors.begin(), spec_errors.end());
    return errors;
}

}  // namespace poetryops::api
