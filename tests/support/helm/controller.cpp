#include "support/helm/controller.hpp"

#include "support/support.hpp"

#include <poetryops/kube/resource.hpp>
#include <poetryops/kube/status.hpp>
#include <poetryops/util/fs.hpp>
#include <poetryops/util/strings.hpp>

#include <chrono>
#include <thread>

namespace poetryops::test::helm {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

/// `$(NAME)` in a container's args replaced by that variable of its environment, as the kubelet
/// does (an unknown name stays as written).
std::string expand(std::string arg, const std::map<std::string, std::string>& env) {
    for (std::size_t at = arg.find("$("); at != std::string::npos; at = arg.find("$(", at)) {
        auto end = arg.find(')', at);
        if (end == std::string::npos) break;
        auto it = env.find(arg.substr(at + 2, end - at - 2));
        if (it == env.end()) {
            at = end;
            continue;
        }
        arg.replace(at, end - at + 1, it->second);
        at += it->second.size();
    }
    return arg;
}

/// The value of one `env` entry of a container: `value`, the Pod's name or namespace
/// (`valueFrom.fieldRef`: `pod`, the Pod this process stands in for), or the key of a Secret it
/// references (`valueFrom.secretKeyRef`; nothing when the Secret or key is missing and it is
/// optional).
Result<std::optional<std::string>> env_value(poetryops::kube::RestClient& admin,
                                             const std::string& ns, const std::string& pod,
                                             const json& entry) {
    if (entry.contains("value")) return std::optional<std::string>(entry.value("value", ""));
    std::string field = entry.value("/valueFrom/fieldRef/fieldPath"_json_pointer, std::string());
    if (field == "metadata.name") return std::optional<std::string>(pod);
    if (field == "metadata.namespace") return std::optional<std::string>(ns);
    json ref = entry.value("/valueFrom/secretKeyRef"_json_pointer, json());
    if (!ref.is_object()) return std::optional<std::string>();
    std::string name = ref.value("name", ""), key = ref.value("key", "");
    auto secret = admin.get(poetryops::kube::resources::secrets().in(ns).named(name));
    if (!secret) {
        if (ref.value("optional", false) && poetryops::kube::is_not_found(secret.error()))
            return std::optional<std::string>();
        return fail(std::move(secret).error());
    }
    auto data = secret->value("/data"_json_pointer, json::object());
    if (!data.contains(key)) {
        if (ref.value("optional", false)) return std::optional<std::string>();
        return fail(Error::Kind::not_found, "Secret " + ns + "/" + name + " has no key " + key);
    }
    std::string value;
    if (!data[key].is_string() || !str::base64_decode(data[key].get<std::string>(), value))
        return fail(Error::Kind::decode,
                    "Secret " + ns + "/" + name + " key " + key + ": not base64");
    return std::optional<std::string>(std::move(value));
}

}  // namespace

Result<std::unique_ptr<ChartController>> ChartController::start(poetryops::kube::RestClient& admin,
                                                                const kube::ClusterInfo& cluster,
                                                                const std::string& ns,
                                                                const std::string& deployment,
                                                                ChartControllerOptions options) {
    POETRYOPS_TRY(json d,
                  admin.get(poetryops::kube::ResourceRef{"apps", "v1", "deployments"}.in(ns).named(
                      deployment)));
    const json pod = d.value("/spec/template/spec"_json_pointer, json::object());
    const json container = pod.value("/containers/0"_json_pointer, json::object());
    std::unique_ptr<ChartController> c(new ChartController());
    c->service_account_ = pod.value("serviceAccountName", "default");
    POETRYOPS_TRY(std::string token, kube::request_token(admin, ns, c->service_account_));
    fs::create_directories(options.dir);
    c->kubeconfig_ = options.dir / (c->service_account_ + ".kubeconfig");
    POETRYOPS_TRY_VOID(kube::write_token_kubeconfig(cluster, token, ns, c->kubeconfig_));

    // A Pod of the Deployment (kube-controller-manager makes it; nothing runs it without a node
    // that has the image): this process stands in for it, e.g. as --leader-pod.
    std::string selector;
    const json match = d.value("/spec/selector/matchLabels"_json_pointer, json::object());
    for (const auto& [k, v] : match.items())
        if (v.is_string())
            selector += (selector.empty() ? "" : ",") + k + "=" + v.get<std::string>();
    for (auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
         c->pod_.empty();) {
        auto pods =
            admin.list(poetryops::kube::resources::pods().in(ns), {.label_selector = selector});
        if (pods && !pods->items.empty())
            c->pod_ = pods->items.front().value("/metadata/name"_json_pointer, std::string());
        if (!c->pod_.empty()) break;
        if (std::chrono::steady_clock::now() > deadline)
            return fail(Error::Kind::timeout, "no Pod of Deployment " + ns + "/" + deployment +
                                                  " (" + selector + ") after 30 s");
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }

    // The container's environment as the kubelet would give it (its Secrets read as admin), then
    // the caller's; HOME in the test's folder.
    ProcessOptions o;
    for (const auto& e : container.value("env", json::array())) {
        POETRYOPS_TRY(auto value, env_value(admin, ns, c->pod_, e));
        if (value) o.env[e.value("name", "")] = *value;
    }
    o.env["HOME"] = options.dir.string();
    for (const auto& [k, v] : options.env) o.env[k] = v;

    c->metrics_port_ = free_port();
    c->health_port_ = free_port();
    c->webhook_port_ = options.webhook_port > 0 ? options.webhook_port : free_port();
    auto loopback = [](int port) { return "127.0.0.1:" + std::to_string(port); };
    c->argv_ = {options.binary.string()};
    for (std::string a : container.value("args", json::array())) {
        a = expand(a, o.env);
        if (a.rfind("--metrics-bind-address=", 0) == 0)
            a = "--metrics-bind-address=" + loopback(c->metrics_port_);
        else if (a.rfind("--health-probe-bind-address=", 0) == 0)
            a = "--health-probe-bind-address=" + loopback(c->health_port_);
        else if (a.rfind("--webhook-bind-address=", 0) == 0)
            a = "--webhook-bind-address=" + loopback(c->webhook_port_);
        else if (a.rfind("--cache-dir=", 0) == 0)
            a = "--cache-dir=" + (options.dir / "cache").string();
        c->argv_.push_back(a);
    }
    c->argv_.insert(c->argv_.end(), {"--kubeconfig", c->kubeconfig_.string()});
    c->log_ = options.dir / "controller.log";
    POETRYOPS_TRY(c->child_, ChildProcess::spawn(c->argv_, o, c->log_.string()));
    return c;
}

std::string ChartController::log() const { return read_file(log_).value_or(""); }

int ChartController::stop(std::chrono::milliseconds grace) {
    if (!exit_code_) exit_code_ = child_.stop(grace);
    return *exit_code_;
}

}  // namespace poetryops::test::helm
