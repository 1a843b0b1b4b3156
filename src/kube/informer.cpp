#include <poetryops/kube/informer.hpp>

#include <poetryops/kube/status.hpp>
#include <poetryops/util/backoff.hpp>
#include <poetryops/util/log.hpp>

namespace poetryops::kube {
namespace {

const std::string& rv_of(const nlohmann::json& o) {
    static const std::string empty;
    auto md = o.find("metadata");
    if (md == o.end() || !md->is_object()) return empty;
    auto rv = md->find("resourceVersion");
    if (rv == md->end() || !rv->is_string()) return empty;
    return rv->get_ref<const std::string&>();
}

}  // namespace

std::string key_of(const nlohmann::json& object) {
    if (!object.is_object()) return {};
    auto md = object.find("metadata");
    if (md == object.end() || !md->is_object()) return {};
    auto name = md->find("name");
    if (name == md->end() || !name->is_string()) return {};
    auto ns = md->find("namespace");
    if (ns == md->end() || !ns->is_string() || ns->get_ref<const std::string&>().empty()) {
        return name->get<std::string>();
    }
    return ns->get_ref<const std::string&>() + "/" + name->get_ref<const std::string&>();
}

Informer::Informer(KubeClient& client, InformerOptions options, const Clock& clock)
    : client_(client), options_(std::move(options)), clock_(clock) {}

Informer::~Informer() { stop(); }

void Informer::add_handler(ResourceEventHandler handler) {
    std::lock_guard hl(handlers_mu_);
    std::vector<ObjectPtr> existing = list();
    if (handler.on_add) {
        for (const auto& o : existing) handler.on_add(*o);
    }
    handlers_.push_back(std::move(handler));
}

void Informer::start() {
    std::lock_guard lock(state_mu_);
    if (thread_.joinable() || stopping_) return;
    thread_ = std::thread([this] { run(); });
    if (options_.resync.count() > 0) resync_thread_ = std::thread([this] { resync_loop(); });
}

void Informer::stop() {
    {
        std::lock_guard lock(state_mu_);
        stopping_ = true;
        if (current_watch_ != nullptr) current_watch_->cancel();
        cv_.notify_all();
    }
    if (thread_.joinable()) thread_.join();
    if (resync_thread_.joinable()) resync_thread_.join();
}

bool Informer::wait_for_sync(std::chrono::milliseconds timeout) const {
    std::unique_lock lock(state_mu_);
    return cv_.wait_for(lock, timeout, [&] { return synced_.load() || stopping_; }) && synced_.load();
}

Informer::ObjectPtr Informer::get(const std::string& key) const {
    std::lock_guard lock(mu_);
    auto it = store_.find(key);
    return it == store_.end() ? nullptr : it->second;
}

std::vector<Informer::ObjectPtr> Informer::list() const {
    std::lock_guard lock(mu_);
    std::vector<ObjectPtr> out;
    out.reserve(store_.size());
    for (const auto& [k, v] : store_) out.push_back(v);
    return out;
}

std::size_t Informer::size() const {
    std::lock_guard lock(mu_);
    return store_.size();
}

std::string Informer::resource_version() const {
    std::lock_guard lock(mu_);
    return rv_;
}

bool Informer::sleep_for(std::chrono::milliseconds d) {
    std::unique_lock lock(state_mu_);
    cv_.wait_for(lock, d, [&] { return stopping_; });
    return !stopping_;
}

void Informer::dispatch(const std::function<void(const ResourceEventHandler&)>& f) {
    std::lock_guard hl(handlers_mu_);
    for (const auto& h : handlers_) {
        try {
            f(h);
        } catch (const std::exception& e) {
            POETRYOPS_LOG(error, "informer event handler threw", {{"resource", options_.resource.describe()},
                                                                   {"error", e.what()}});
        }
    }
}

bool Informer::relist() {
    ListOptions lo;
    lo.label_selector = options_.label_selector;
    lo.field_selector = options_.field_selector;
    lo.limit = options_.page_size;
    auto r = client_.list_all(options_.resource, lo);
    if (!r) {
        POETRYOPS_LOG(warn, "list failed; retrying with backoff",
                      {{"resource", options_.resource.describe()}, {"error", r.error().message}});
        return false;
    }
    ++lists_;
    std::unordered_map<std::string, ObjectPtr> fresh;
    fresh.reserve(r->items.size());
    for (auto& item : r->items) {
        std::string key = key_of(item);
        if (key.empty()) continue;
        fresh.emplace(std::move(key), std::make_shared<const nlohmann::json>(std::move(item)));
    }
    std::vector<ObjectPtr> added, deleted;
    std::vector<std::pair<ObjectPtr, ObjectPtr>> updated;
    {
        std::lock_guard lock(mu_);
        for (const auto& [k, v] : fresh) {
            auto old = store_.find(k);
            if (old == store_.end()) added.push_back(v);
            else if (rv_of(*old->second) != rv_of(*v)) updated.emplace_back(old->second, v);
        }
        for (const auto& [k, v] : store_) {
            if (fresh.find(k) == fresh.end()) deleted.push_back(v);
        }
        store_ = std::move(fresh);
        rv_ = r->resource_version;
    }
    dispatch([&](const ResourceEventHandler& h) {
        if (h.on_add) for (const auto& o : added) h.on_add(*o);
        if (h.on_update) for (const auto& [o, n] : updated) h.on_update(*o, *n);
        if (h.on_delete) for (const auto& o : deleted) h.on_delete(*o);
    });
    {
        std::lock_guard lock(state_mu_);
        synced_ = true;
        cv_.notify_all();
    }
    return true;
}

void Informer::apply_event(WatchEvent&& ev) {
    if (ev.type == WatchEventType::bookmark) {
        const std::string& rv = rv_of(ev.object);
        std::lock_guard lock(mu_);
        if (!rv.empty()) rv_ = rv;
        return;
    }
    std::string key = key_of(ev.object);
    if (key.empty()) return;
    ObjectPtr now = std::make_shared<const nlohmann::json>(std::move(ev.object));  // no copy of the object
    const std::string& rv = rv_of(*now);
    ObjectPtr old;
    {
        std::lock_guard lock(mu_);
        auto it = store_.find(key);
        if (it != store_.end()) old = it->second;
        if (ev.type == WatchEventType::deleted) {
            if (it != store_.end()) store_.erase(it);
        } else {
            store_[key] = now;
        }
        if (!rv.empty()) rv_ = rv;
    }
    dispatch([&](const ResourceEventHandler& h) {
        if (ev.type == WatchEventType::deleted) {
            if (h.on_delete) h.on_delete(*now);
        } else if (old) {
            if (h.on_update) h.on_update(*old, *now);
        } else if (h.on_add) {
            h.on_add(*now);
        }
    });
}

void Informer::watch_once(bool& need_list, bool& backoff) {
    WatchOptions wo;
    wo.resource_version = resource_version();
    wo.label_selector = options_.label_selector;
    wo.field_selector = options_.field_selector;
    wo.timeout_seconds = options_.watch_timeout_seconds;
    wo.idle_timeout = options_.idle_timeout;
    auto w = client_.watch(options_.resource, wo);
    if (!w) {
        if (is_gone(w.error())) {
            POETRYOPS_LOG(info, "watch resourceVersion expired; relisting",
                          {{"resource", options_.resource.describe()}, {"resourceVersion", wo.resource_version}});
            need_list = true;
        } else {
            POETRYOPS_LOG(warn, "watch failed; retrying with backoff",
                          {{"resource", options_.resource.describe()}, {"error", w.error().message}});
            backoff = true;
        }
        return;
    }
    ++watches_;
    std::unique_ptr<WatchStream> stream = std::move(w).value();
    {
        std::lock_guard lock(state_mu_);
        if (stopping_) return;
        current_watch_ = stream.get();
    }
    for (;;) {
        auto ev = stream->next();
        if (!ev) {
            const Error& e = ev.error();
            if (is_gone(e)) {
                POETRYOPS_LOG(info, "watch expired (410); relisting", {{"resource", options_.resource.describe()}});
                need_list = true;
            } else if (e.kind == Error::Kind::decode) {
                POETRYOPS_LOG(warn, "garbage in the watch stream; relisting",
                              {{"resource", options_.resource.describe()}, {"error", e.message}});
                need_list = true;
                backoff = true;
            } else if (e.reason != "Cancelled") {
                POETRYOPS_LOG(info, "watch ended; resuming",
                              {{"resource", options_.resource.describe()}, {"error", e.message}});
                backoff = true;
            }
            break;
        }
        if (!ev->has_value()) break;  // the server closed the watch (timeoutSeconds): resume at once
        apply_event(std::move(**ev));
    }
    std::lock_guard lock(state_mu_);
    current_watch_ = nullptr;
}

void Informer::run() {
    Backoff backoff(options_.backoff_base, options_.backoff_max);
    bool need_list = true;
    for (;;) {
        {
            std::lock_guard lock(state_mu_);
            if (stopping_) return;
        }
        if (need_list) {
            if (!relist()) {
                if (!sleep_for(backoff.next())) return;
                continue;
            }
            need_list = false;
        }
        bool do_backoff = false;
        watch_once(need_list, do_backoff);
        if (do_backoff) {
            if (!sleep_for(backoff.next())) return;
        } else {
            backoff.reset();
        }
    }
}

void Informer::resync_loop() {
    while (sleep_for(options_.resync)) {
        if (!synced_) continue;
        auto objects = list();
        dispatch([&](const ResourceEventHandler& h) {
            if (h.on_update) for (const auto& o : objects) h.on_update(*o, *o);
        });
    }
}

}  // namespace poetryops::kube
