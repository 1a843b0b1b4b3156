#include <poetryops/util/metrics.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace poetryops::metrics {

struct MetricsRegistry::Family {
    MetricType type = MetricType::counter;
    std::string help;
    std::vector<double> buckets;
    struct Series {
        double value = 0;
        std::vector<std::uint64_t> bucket_counts;  // non-cumulative, one per bound
        double sum = 0;
        std::uint64_t count = 0;
    };
    std::map<Labels, Series> series;
};

namespace {

Labels canonical(const Labels& labels) {
    Labels l = labels;
    std::sort(l.begin(), l.end());
    return l;
}

std::string format_number(double v) {
    if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
    if (std::isnan(v)) return "NaN";
    if (v == std::floor(v) && std::fabs(v) < 1e15) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.0f", v);
        return buf;
    }
    // Shortest representation that reads back as the same double (0.1, not 0.10000000000000001).
    char buf[64];
    for (int precision = 15; precision <= 17; ++precision) {
        std::snprintf(buf, sizeof buf, "%.*g", precision, v);
        if (std::strtod(buf, nullptr) == v) break;
    }
    return buf;
}

std::string render_labels(const Labels& labels,
                          const std::pair<std::string, std::string>* extra = nullptr) {
    if (labels.empty() && extra == nullptr) return {};
    std::string out = "{";
    bool first = true;
    for (const auto& [k, v] : labels) {
        if (!first) out += ",";
        first = false;
        out += k + "=\"" + escape_label_value(v) + "\"";
    }
    if (extra != nullptr) {
        if (!first) out += ",";
        out += extra->first + "=\"" + escape_label_value(extra->second) + "\"";
    }
    out += "}";
    return out;
}

const char* type_name(MetricType t) {
    switch (t) {
        case MetricType::counter: return "counter";
        case MetricType::gauge: return "gauge";
        case MetricType::histogram: return "histogram";
    }
    return "untyped";
}

std::string escape_help(std::string_view h) {
    std::string out;
    for (char c : h) {
        if (c == '\\')
            out += "\\\\";
        else if (c == '\n')
            out += "\\n";
        else
            out += c;
    }
    return out;
}

}  // namespace

std::vector<double> default_buckets() { return {.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}; }

std::vector<double> reconcile_time_buckets() {
    return {0.005, 0.01, 0.025, 0.05, 0.1,  0.15, 0.2,  0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6,
            0.7,   0.8,  0.9,   1.0,  1.25, 1.5,  1.75, 2.0,  2.5, 3.0,  3.5, 4.0,  4.5, 5,
            6,     7,    8,     9,    10,   15,   20,   25,   30,  40,   50,  60};
}

std::string escape_label_value(std::string_view v) {
    std::string out;
    out.reserve(v.size());
    for (char c : v) {
        if (c == '\\')
            out += "\\\\";
        else if (c == '"')
            out += "\\\"";
        else if (c == '\n')
            out += "\\n";
        else
            out += c;
    }
    return out;
}

MetricsRegistry::MetricsRegistry() = default;
MetricsRegistry::~MetricsRegistry() = default;

void MetricsRegistry::describe(const std::string& name, MetricType type, const std::string& help,
                               std::vector<double> buckets) {
    std::lock_guard lock(mu_);
    auto& f = families_[name];
    if (f) return;
    f = std::make_unique<Family>();
    f->type = type;
    f->help = help;
    if (type == MetricType::histogram) {
        f->buckets = buckets.empty() ? default_buckets() : std::move(buckets);
        std::sort(f->buckets.begin(), f->buckets.end());
    }
}

MetricsRegistry::Family& MetricsRegistry::family_locked(const std::string& name, MetricType type) {
    auto& f = families_[name];
    if (!f) {
        f = std::make_unique<Family>();
        f->type = type;
        if (type == MetricType::histogram) f->buckets = default_buckets();
    }
    return *f;
}

void MetricsRegistry::inc(const std::string& name, const Labels& labels, double v) {
    std::lock_guard lock(mu_);
    family_locked(name, MetricType::counter).series[canonical(labels)].value += v;
}

void MetricsRegistry::set(const std::string& name, const Labels& labels, double v) {
    std::lock_guard lock(mu_);
    family_locked(name, MetricType::gauge).series[canonical(labels)].value = v;
}

void MetricsRegistry::add(const std::string& name, const Labels& labels, double v) {
    std::lock_guard lock(mu_);
    family_locked(name, MetricType::gauge).series[canonical(labels)].value += v;
}

void MetricsRegistry::remove(const std::string& name, const Labels& subset) {
    std::lock_guard lock(mu_);
    auto f = families_.find(name);
    if (f == families_.end()) return;
    const Labels want = canonical(subset);
    std::erase_if(f->second->series, [&](const auto& kv) {
        for (const auto& label : want) {
            if (std::find(kv.first.begin(), kv.first.end(), label) == kv.first.end()) return false;
        }
        return true;
    });
}

void MetricsRegistry::observe(const std::string& name, const Labels& labels, double v) {
    std::lock_guard lock(mu_);
    auto& f = family_locked(name, MetricType::histogram);
    auto& s = f.series[canonical(labels)];
    if (s.bucket_counts.size() != f.buckets.size()) s.bucket_counts.assign(f.buckets.size(), 0);
    auto it = std::lower_bound(f.buckets.begin(), f.buckets.end(), v);
    if (it != f.buckets.end()) ++s.bucket_counts[it - f.buckets.begin()];
    s.sum += v;
    ++s.count;
}

double MetricsRegistry::value(const std::string& name, const Labels& labels) const {
    std::lock_guard lock(mu_);
    auto f = families_.find(name);
    if (f == families_.end()) return 0;
    auto s = f->second->series.find(canonical(labels));
    if (s == f->second->series.end()) return 0;
    return f->second->type == MetricType::histogram ? static_cast<double>(s->second.count)
                                                    : s->second.value;
}

double MetricsRegistry::total(const std::string& name) const {
    std::lock_guard lock(mu_);
    auto f = families_.find(name);
    if (f == families_.end()) return 0;
    double t = 0;
    for (const auto& [l, s] : f->second->series) {
        t += f->second->type == MetricType::histogram ? static_cast<double>(s.count) : s.value;
    }
    return t;
}

void MetricsRegistry::add_collector(std::function<std::string()> collector) {
    std::lock_guard lock(mu_);
    collectors_.push_back(std::move(collector));
}

std::string MetricsRegistry::render() const {
    std::vector<std::function<std::string()>> collectors;
    std::string out;
    {
        std::lock_guard lock(mu_);
        collectors = collectors_;
        for (const auto& [name, f] : families_) {
            if (!f->help.empty()) out += "# HELP " + name + " " + escape_help(f->help) + "\n";
            out += "# TYPE " + name + " " + type_name(f->type) + "\n";
            for (const auto& [labels, s] : f->series) {
                if (f->type != MetricType::histogram) {
                    out += name + render_labels(labels) + " " + format_number(s.value) + "\n";
                    continue;
                }
                std::uint64_t cumulative = 0;
                for (std::size_t i = 0; i < f->buckets.size(); ++i) {
                    cumulative += i < s.bucket_counts.size() ? s.bucket_counts[i] : 0;
                    std::pair<std::string, std::string> le{"le", format_number(f->buckets[i])};
                    out += name + "_bucket" + render_labels(labels, &le) + " " +
                           std::to_string(cumulative) + "\n";
                }
                std::pair<std::string, std::string> inf{"le", "+Inf"};
                out += name + "_bucket" + render_labels(labels, &inf) + " " +
                       std::to_string(s.count) + "\n";
                out += name + "_sum" + render_labels(labels) + " " + format_number(s.sum) + "\n";
                out +=
                    name + "_count" + render_labels(labels) + " " + std::to_string(s.count) + "\n";
            }
        }
    }
    // Collectors run outside the lock: they may read this registry.
    for (const auto& c : collectors) {
        std::string text = c();
        if (!text.empty() && text.back() != '\n') text += '\n';
        out += text;
    }
    return out;
}

}  // namespace poetryops::metrics
