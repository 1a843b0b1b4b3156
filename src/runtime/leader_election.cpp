#include <poetryops/runtime/leader_election.hpp>

#include <poetryops/kube/status.hpp>
#include <poetryops/util/log.hpp>
#include <poetryops/util/metrics.hpp>
#include <poetryops/util/strings.hpp>

#include <unistd.h>

#include <cstdio>
#include <random>

namespace poetryops::runtime {
namespace {

/// metav1.MicroTime: RFC 3339 with exactly six fraction digits.
std::string micro_time(Clock::time_point t) {
    std::string s = format_rfc3339(t);  // "...:SSZ"
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count() %
              1000000;
    if (us < 0) us += 1000000;
    char frac[16];
    std::snprintf(frac, sizeof frac, ".%06lld", static_cast<long long>(us));
    if (!s.empty() && s.back() == 'Z') s.insert(s.size() - 1, frac);
    return s;
}

std::string str_field(const nlohmann::json& j, const char* key) {
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

std::string default_leader_identity() {
    char host[256] = {0};
    if (gethostname(host, sizeof host - 1) != 0) std::snprintf(host, sizeof host, "unknown");
    std::random_device rd;
    char suffix[16];
    std::snprintf(suffix, sizeof suffix, "%08x", rd());
    return std::string(host) + "_" + suffix;
}

LeaderElector::LeaderElector(kube::KubeClient& client, LeaderElectionConfig config,
                             const Clock& clock)
    : client_(client), config_(std::move(config)), clock_(clock) {
    ref_ = kube::resources::leases().in(config_.lease_namespace).named(config_.lease_name);
    if (config_.metrics != nullptr) {
        config_.metrics->describe(
            "leader_election_master_status", metrics::MetricType::gauge,
            "Gauge of if the reporting system is master of the relevant lease, 0 indicates "
            "backup, 1 indicates master. 'name' is the string used to identify the lease.");
        config_.metrics->set("leader_election_master_status", {{"name", config_.lease_name}}, 0);
    }
}

void LeaderElector::set_leader(bool leading) {
    leader_ = leading;
    if (config_.metrics != nullptr) {
        config_.metrics->set("leader_election_master_status", {{"name", config_.lease_name}},
                             leading ? 1 : 0);
    }
}

std::string LeaderElector::observed_holder() const {
    std::lock_guard lock(mu_);
    return observed_holder_;
}

nlohmann::json LeaderElector::lease_spec(bool new_holder, const nlohmann::json* old_spec) const {
    auto now = micro_time(clock_.now());
    nlohmann::json spec =
        old_spec != nullptr && old_spec->is_object() ? *old_spec : nlohmann::json::object();
    spec["holderIdentity"] = config_.identity;
    spec["leaseDurationSeconds"] = std::max<long long>(
        1, std::chrono::duration_cast<std::chrono::seconds>(config_.lease_duration).count());
    spec["renewTime"] = now;
    if (new_holder || !spec.contains("acquireTime")) {
        spec["acquireTime"] = now;
        if (new_holder)
            spec["leaseTransitions"] =
                spec.value("leaseTransitions", 0) + (old_spec != nullptr ? 1 : 0);
    }
    return spec;
}

bool LeaderElector::try_acquire_or_renew() {
    auto now = clock_.steady_now();
    auto current = client_.get(ref_);
    if (!current) {
        if (!kube::is_not_found(current.error())) {
            POETRYOPS_LOG(warn, "leader election: cannot read the lease",
                          {{"lease", ref_.describe()}, {"error", current.error().message}});
            return false;
        }
        nlohmann::json lease = {
            {"apiVersion", "coordination.k8s.io/v1"},
            {"kind", "Lease"},
            {"metadata", {{"name", config_.lease_name}, {"namespace", config_.lease_namespace}}},
            {"spec", lease_spec(true, nullptr)}};
        auto created = client_.create(ref_, lease);
        if (!created) return false;
        std::lock_guard lock(mu_);
        observed_spec_ = (*created)["spec"];
        observed_holder_ = config_.identity;
        observed_at_ = now;
        last_renew_ = now;
        set_leader(true);
        return true;
    }
    nlohmann::json lease = std::move(current).value();
    nlohmann::json spec = lease.contains("spec") && lease["spec"].is_object()
                              ? lease["spec"]
                              : nlohmann::json::object();
    std::string holder = str_field(spec, "holderIdentity");
    bool holder_changed = false;
    std::chrono::milliseconds duration = config_.lease_duration;
    {
        std::lock_guard lock(mu_);
        if (spec != observed_spec_) {
            observed_spec_ = spec;
            observed_at_ = now;
            holder_changed = holder != observed_holder_;
            observed_holder_ = holder;
        }
        if (auto it = spec.find("leaseDurationSeconds");
            it != spec.end() && it->is_number_integer()) {
            duration = std::chrono::seconds(it->get<long long>());
        }
        if (!holder.empty() && holder != config_.identity && now < observed_at_ + duration) {
            if (leader_) set_leader(false);  // someone else holds it: we lost it
            if (holder_changed && config_.on_new_leader) config_.on_new_leader(holder);
            return false;
        }
    }
    if (holder_changed && config_.on_new_leader && holder != config_.identity && !holder.empty()) {
        config_.on_new_leader(holder);
    }
    bool new_holder = holder != config_.identity;
    lease["spec"] = lease_spec(new_holder, &spec);
    auto updated = client_.update(ref_, lease);
    if (!updated) {
        POETRYOPS_LOG(debug, "leader election: lease update failed",
                      {{"lease", ref_.describe()}, {"error", updated.error().message}});
        return false;
    }
    std::lock_guard lock(mu_);
    observed_spec_ = (*updated)["spec"];
    observed_holder_ = config_.identity;
    observed_at_ = now;
    last_renew_ = now;
    if (!leader_) set_leader(true);
    return true;
}

bool LeaderElector::sleep_for(std::chrono::milliseconds d) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, d, [&] { return stopping_; });
    return !stopping_;
}

void LeaderElector::stop() {
    std::lock_guard lock(mu_);
    stopping_ = true;
    cv_.notify_all();
}

void LeaderElector::run() {
    std::mt19937 rng{std::random_device{}()};
    std::uniform_real_distribution<double> jitter(1.0, 1.2);
    auto retry = [&] {
        return std::chrono::milliseconds(
            static_cast<long long>(config_.retry_period.count() * jitter(rng)));
    };
    while (!try_acquire_or_renew()) {
        if (!sleep_for(retry())) return;
    }
    POETRYOPS_LOG(info, "leader election: acquired the lease",
                  {{"lease", ref_.describe()}, {"identity", config_.identity}});
    if (config_.on_started_leading) config_.on_started_leading();
    while (sleep_for(config_.retry_period)) {
        bool renewed = try_acquire_or_renew();
        std::chrono::steady_clock::time_point last;
        {
            std::lock_guard lock(mu_);
            last = last_renew_;
        }
        if (renewed) continue;
        if (leader_ && clock_.steady_now() - last < config_.renew_deadline) continue;
        set_leader(false);
        POETRYOPS_LOG(error, "leader election: lost the lease",
                      {{"lease", ref_.describe()}, {"identity", config_.identity}});
        if (config_.on_stopped_leading) config_.on_stopped_leading();
        return;
    }
    auto r = release();
    if (!r) {
        POETRYOPS_LOG(warn, "leader election: could not release the lease",
                      {{"lease", ref_.describe()}, {"error", r.error().message}});
    }
}

Result<void> LeaderElector::release() {
    if (!leader_) return ok();
    POETRYOPS_TRY(auto lease, client_.get(ref_));
    if (str_field(lease.value("spec", nlohmann::json::object()), "holderIdentity") !=
        config_.identity) {
        set_leader(false);
        return ok();
    }
    auto now = micro_time(clock_.now());
    lease["spec"]["holderIdentity"] = "";
    lease["spec"]["leaseDurationSeconds"] = 1;
    lease["spec"]["renewTime"] = now;
    lease["spec"]["acquireTime"] = now;
    POETRYOPS_TRY(auto updated, client_.update(ref_, lease));
    (void)updated;
    set_leader(false);
    POETRYOPS_LOG(info, "leader election: released the lease", {{"lease", ref_.describe()}});
    return ok();
}

}  // namespace poetryops::runtime
