#include "support/prometheus/load_generator.hpp"

#include <gtest/gtest.h>

namespace poetryops::test {

LoadGenerator::LoadGenerator(std::vector<Backend> backends)
    : backends_(std::move(backends)), current_(backends_.size(), 0), sent_(backends_.size(), 0) {
    http::ClientOptions o;
    o.connect_timeout = o.read_timeout = std::chrono::seconds(5);
    o.max_idle_per_host = 16;
    auto c = http::Client::create(o);
    if (!c) {
        ADD_FAILURE() << "LoadGenerator: " << c.error().message;
    } else {
        client_ = std::move(c).value();
    }
}

LoadGenerator::~LoadGenerator() { stop(); }

void LoadGenerator::set_weights(const std::vector<int>& weights) {
    std::lock_guard lock(mu_);
    for (std::size_t i = 0; i < backends_.size() && i < weights.size(); ++i) {
        backends_[i].weight = weights[i];
    }
    std::fill(current_.begin(), current_.end(), 0);
}

int LoadGenerator::pick() {
    std::lock_guard lock(mu_);
    long long total = 0;
    int best = -1;
    for (std::size_t i = 0; i < backends_.size(); ++i) {
        if (backends_[i].weight <= 0) continue;
        current_[i] += backends_[i].weight;
        total += backends_[i].weight;
        if (best < 0 || current_[i] > current_[best]) best = static_cast<int>(i);
    }
    if (best < 0) return -1;
    current_[best] -= total;
    ++sent_[best];
    return best;
}

bool LoadGenerator::send_one() {
    int i = pick();
    if (i < 0 || !client_) return false;
    std::string url;
    {
        std::lock_guard lock(mu_);
        url = backends_[i].url;
    }
    auto r = client_->request({.method = "GET", .url = url});
    if (!r) ++failures_;
    return r.has_value();
}

int LoadGenerator::send(int count) {
    int answered = 0;
    for (int i = 0; i < count; ++i) answered += send_one() ? 1 : 0;
    return answered;
}

void LoadGenerator::start(double rate, int concurrency) {
    stop();
    period_ = std::chrono::nanoseconds(static_cast<long long>(1e9 / rate));
    next_slot_ = std::chrono::steady_clock::now();
    running_ = true;
    for (int t = 0; t < concurrency; ++t) {
        threads_.emplace_back([this] {
            while (running_) {
                std::chrono::steady_clock::time_point slot;
                {
                    std::lock_guard lock(mu_);
                    // Never bank more than a second of missed slots (a stall must not burst).
                    auto now = std::chrono::steady_clock::now();
                    if (next_slot_ < now - std::chrono::seconds(1)) next_slot_ = now;
                    slot = next_slot_;
                    next_slot_ += period_;
                }
                std::this_thread::sleep_until(slot);
                if (!running_) break;
                send_one();
            }
        });
    }
}

void LoadGenerator::stop() {
    running_ = false;
    for (auto& t : threads_) t.join();
    threads_.clear();
}

std::vector<std::uint64_t> LoadGenerator::sent() const {
    std::lock_guard lock(mu_);
    return sent_;
}

}  // namespace poetryops::test
