// Informer cache and KubeClient::list_pages against a scripted in-process KubeClient (no server):
// paging one page at a time, the compact cache round trip, transforms, relist diff semantics,
// for_each/resync/add_handler delivery, indexes.
#include <poetryops/runtime/informer.hpp>

#include "support/support.hpp"

#include <gtest/gtest.h>

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>

namespace poetryops::runtime {
namespace {

/// A custom resource for the informer to list (the kube module knows no PoetryApp).
kube::ResourceRef widgets() { return {"example.com", "v1", "widgets"}; }

using namespace std::chrono_literals;
using nlohmann::json;

json app(const std::string& ns, const std::string& name, const std::string& rv,
         const std::string& repo = "r") {
    return {{"apiVersion", "poetryops.io/v1alpha1"},
            {"kind", "PoetryApp"},
            {"metadata",
             {{"name", name},
              {"namespace", ns},
              {"resourceVersion", rv},
              {"labels", {{"team", ns}}},
              {"managedFields", json::array({{{"manager", "kubectl"},
                                              {"operation", "Apply"},
                                              {"fieldsV1", {{"f:spec", json::object()}}}}})}}},
            {"spec",
             {{"image", {{"repository", repo}}},
              {"replicas", 3},
              {"ratio", 0.5},
              {"on", true},
              {"nil", nullptr},
              {"unicode", "größe ✓"},
              {"big", 1099511627776},
              {"neg", -7}}}};
}

json stripped(json o) {
    o["metadata"].erase("managedFields");
    return o;
}

/// A KubeClient that serves `objects` as a paged list and hands scripted events to the open watch.
class ScriptedClient final : public kube::KubeClient {
public:
    std::mutex mu;
    std::condition_variable cv;
    std::map<std::string, json> objects;  // key → object, listed in key order
    std::string list_rv = "100";
    std::vector<std::string> calls;  // "list <continue>" per page request, "watch <rv>"
    std::deque<Result<std::optional<kube::WatchEvent>>> events;
    int fail_list_page = -1;  // page index whose request fails (once)

    void push(Result<std::optional<kube::WatchEvent>> ev) {
        std::lock_guard lock(mu);
        events.push_back(std::move(ev));
        cv.notify_all();
    }
    void push_event(kube::WatchEventType type, json object) {
        push(std::optional<kube::WatchEvent>(kube::WatchEvent{type, std::move(object)}));
    }
    std::vector<std::string> seen_calls() {
        std::lock_guard lock(mu);
        return calls;
    }

    Result<kube::ObjectList> list(const kube::ResourceRef&,
                                  const kube::ListOptions& options) override {
        std::lock_guard lock(mu);
        calls.push_back("list " + options.continue_token);
        std::size_t start = options.continue_token.empty() ? 0 : std::stoul(options.continue_token);
        if (static_cast<int>(start / std::max<std::int64_t>(options.limit, 1)) == fail_list_page) {
            fail_list_page = -1;
            return fail(Error::make(Error::Kind::transport, "connection reset"));
        }
        kube::ObjectList out;
        out.resource_version = list_rv;
        std::size_t i = 0;
        for (const auto& [k, v] : objects) {
            if (i >= start && (options.limit <= 0 ||
                               out.items.size() < static_cast<std::size_t>(options.limit))) {
                out.items.push_back(v);
            }
            ++i;
        }
        std::size_t next = start + out.items.size();
        if (next < objects.size()) out.continue_token = std::to_string(next);
        return out;
    }

    class Stream final : public kube::WatchStream {
    public:
        explicit Stream(ScriptedClient& c) : c_(c) {}
        Result<std::optional<kube::WatchEvent>> next() override {
            std::unique_lock lock(c_.mu);
            c_.cv.wait(lock, [&] { return cancelled_ || !c_.events.empty(); });
            if (cancelled_)
                return fail(Error::make(Error::Kind::transport, "cancelled", "Cancelled"));
            auto ev = std::move(c_.events.front());
            c_.events.pop_front();
            return ev;
        }
        void cancel() override {
            std::lock_guard lock(c_.mu);
            cancelled_ = true;
            c_.cv.notify_all();
        }

    private:
        ScriptedClient& c_;
        bool cancelled_ = false;
    };

    Result<std::unique_ptr<kube::WatchStream>> watch(const kube::ResourceRef&,
                                                     const kube::WatchOptions& options) override {
        {
            std::lock_guard lock(mu);
            calls.push_back("watch " + options.resource_version);
        }
        return std::unique_ptr<kube::WatchStream>(std::make_unique<Stream>(*this));
    }

    Result<json> get(const kube::ResourceRef&) override {
        return fail(Error::make(Error::Kind::internal, "unused"));
    }
    Result<json> create(const kube::ResourceRef&, const json&) override {
        return fail(Error::make(Error::Kind::internal, "unused"));
    }
    Result<json> update(const kube::ResourceRef&, const json&) override {
        return fail(Error::make(Error::Kind::internal, "unused"));
    }
    Result<json> patch(const kube::ResourceRef&, kube::PatchType, const json&,
                       const kube::PatchOptions&) override {
        return fail(Error::make(Error::Kind::internal, "unused"));
    }
    Result<void> remove(const kube::ResourceRef&, const kube::DeleteOptions&) override {
        return fail(Error::make(Error::Kind::internal, "unused"));
    }
};

/// Records handler calls, and what the cache held for the key at the time of the call.
struct Recorder {
    Informer* informer = nullptr;
    std::mutex mu;
    std::vector<std::string> log;
    ResourceEventHandler handler() {
        return {[this](const json& o) { push("add " + key_of(o) + "@" + rv(o)); },
                [this](const json& o, const json& n) {
                    push("update " + key_of(n) + "@" + rv(o) + "->" + rv(n));
                },
                [this](const json& o) { push("delete " + key_of(o) + "@" + rv(o)); }};
    }
    static std::string rv(const json& o) { return o["metadata"].value("resourceVersion", ""); }
    void push(std::string s) {
        std::lock_guard lock(mu);
        log.push_back(std::move(s));
    }
    std::vector<std::string> take() {
        std::lock_guard lock(mu);
        return std::exchange(log, {});
    }
    std::size_t count() {
        std::lock_guard lock(mu);
        return log.size();
    }
};

InformerOptions options(std::int64_t page_size = 2) {
    InformerOptions io;
    io.resource = widgets();
    io.page_size = page_size;
    io.backoff_base = 5ms;
    io.backoff_max = 20ms;
    return io;
}

TEST(ListPages, HandsEachPageOverBeforeRequestingTheNext) {
    ScriptedClient c;
    for (int i = 0; i < 5; ++i)
        c.objects["ns/a" + std::to_string(i)] = app("ns", "a" + std::to_string(i), "1");
    std::vector<std::string> order;
    kube::ListOptions lo;
    lo.limit = 2;
    auto rv = c.list_pages(widgets(), lo, [&](kube::ObjectList& page) -> Result<void> {
        order.push_back("page of " + std::to_string(page.items.size()) + " after " +
                        std::to_string(c.seen_calls().size()) + " requests");
        page.items.clear();  // the caller may take the page apart
        return ok();
    });
    ASSERT_TRUE(rv) << rv.error().message;
    EXPECT_EQ(*rv, "100");
    EXPECT_EQ(order,
              (std::vector<std::string>{"page of 2 after 1 requests", "page of 2 after 2 requests",
                                        "page of 1 after 3 requests"}));
    EXPECT_EQ(c.seen_calls(), (std::vector<std::string>{"list ", "list 2", "list 4"}));

    // list_all (built on it) still returns everything.
    auto all = c.list_all(widgets(), lo);
    ASSERT_TRUE(all);
    EXPECT_EQ(all->items.size(), 5u);
    EXPECT_EQ(all->items[4], c.objects["ns/a4"]);
}

TEST(ListPages, StopsAtTheFirstErrorOfARequestOrOfTheCallback) {
    ScriptedClient c;
    for (int i = 0; i < 6; ++i)
        c.objects["ns/a" + std::to_string(i)] = app("ns", "a" + std::to_string(i), "1");
    kube::ListOptions lo;
    lo.limit = 2;
    int pages = 0;
    auto r = c.list_pages(widgets(), lo, [&](kube::ObjectList&) -> Result<void> {
        if (++pages == 2) return fail(Error::make(Error::Kind::invalid, "enough"));
        return ok();
    });
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message, "enough");
    EXPECT_EQ(c.seen_calls().size(), 2u) << "no request after the callback failed";

    c.fail_list_page = 1;
    pages = 0;
    r = c.list_pages(widgets(), lo, [&](kube::ObjectList&) -> Result<void> {
        ++pages;
        return ok();
    });
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message, "connection reset");
    EXPECT_EQ(pages, 1);
}

TEST(Informer, CachesWhatTheServerHoldsWithoutManagedFieldsByDefault) {
    ScriptedClient c;
    for (int i = 0; i < 5; ++i)
        c.objects["ns/a" + std::to_string(i)] = app("ns", "a" + std::to_string(i), "1");
    Informer inf(c, options());
    Recorder rec;
    inf.add_handler(rec.handler());
    inf.start();
    ASSERT_TRUE(inf.wait_for_sync(10s));
    EXPECT_EQ(inf.size(), 5u);
    EXPECT_EQ(inf.resource_version(), "100");
    for (const auto& [k, v] : c.objects) {
        auto got = inf.get(k);
        ASSERT_TRUE(got) << k;
        EXPECT_EQ(*got, stripped(v))
            << "every field and type survives the compact cache: " << got->dump();
        EXPECT_FALSE(got->at("metadata").contains("managedFields"));
    }
    EXPECT_EQ(inf.get("ns/missing"), nullptr);
    auto keys = inf.keys();
    std::sort(keys.begin(), keys.end());
    EXPECT_EQ(keys, (std::vector<std::string>{"ns/a0", "ns/a1", "ns/a2", "ns/a3", "ns/a4"}));
    EXPECT_EQ(rec.take().size(), 5u);
    EXPECT_EQ(c.seen_calls()[0], "list ");
    EXPECT_EQ(c.seen_calls()[2], "list 4");

    // Watch: add, update, delete; handlers see the transformed objects, the cache follows.
    c.push_event(kube::WatchEventType::added, app("ns", "new", "101"));
    json changed = app("ns", "a1", "102");
    changed["spec"]["replicas"] = 9;
    c.push_event(kube::WatchEventType::modified, changed);
    c.push_event(kube::WatchEventType::deleted, app("ns", "a2", "103"));
    ASSERT_TRUE(test::wait_until([&] { return rec.count() == 3; }));
    EXPECT_EQ(rec.take(), (std::vector<std::string>{"add ns/new@101", "update ns/a1@1->102",
                                                    "delete ns/a2@103"}));
    EXPECT_EQ(*inf.get("ns/a1"), stripped(changed));
    EXPECT_EQ(*inf.get("ns/new"), stripped(app("ns", "new", "101")));
    EXPECT_EQ(inf.get("ns/a2"), nullptr);
    EXPECT_EQ(inf.resource_version(), "103");
    EXPECT_EQ(inf.lists(), 1u);
}

TEST(Informer, ACustomTransformAppliesToListedAndWatchedObjects) {
    ScriptedClient c;
    c.objects["ns/a"] = app("ns", "a", "1");
    auto io = options();
    io.transform = [](json& o) {
        o.erase("spec");
        o["metadata"]["annotations"]["seen"] = "yes";
    };
    Informer inf(c, io);
    std::vector<json> handled;
    std::mutex mu;
    inf.add_handler({[&](const json& o) {
                         std::lock_guard lock(mu);
                         handled.push_back(o);
                     },
                     nullptr, nullptr});
    inf.start();
    ASSERT_TRUE(inf.wait_for_sync(10s));
    c.push_event(kube::WatchEventType::added, app("ns", "b", "2"));
    ASSERT_TRUE(test::wait_until([&] { return inf.size() == 2; }));
    for (const char* key : {"ns/a", "ns/b"}) {
        auto o = inf.get(key);
        ASSERT_TRUE(o);
        EXPECT_FALSE(o->contains("spec"));
        EXPECT_EQ(o->at("metadata").at("annotations").at("seen"), "yes");
        EXPECT_TRUE(o->at("metadata").contains("managedFields"))
            << "a custom transform replaces the default";
    }
    std::lock_guard lock(mu);
    ASSERT_EQ(handled.size(), 2u);
    EXPECT_FALSE(handled[1].contains("spec"));

    // No transform: cached exactly as served.
    ScriptedClient c2;
    c2.objects["ns/a"] = app("ns", "a", "1");
    auto io2 = options();
    io2.transform = nullptr;
    Informer raw(c2, io2);
    raw.start();
    ASSERT_TRUE(raw.wait_for_sync(10s));
    EXPECT_EQ(*raw.get("ns/a"), c2.objects["ns/a"]);
}

TEST(Informer, RelistDiffsByResourceVersionAndCallsHandlersAfterTheSwap) {
    ScriptedClient c;
    c.objects["ns/keep"] = app("ns", "keep", "1");
    c.objects["ns/change"] = app("ns", "change", "2");
    c.objects["ns/gone"] = app("ns", "gone", "3");
    Informer inf(c, options(1));
    Recorder rec;
    std::vector<std::string> cache_during_handlers;
    std::mutex mu;
    auto h = rec.handler();
    auto on_add = h.on_add;
    h.on_add = [&, on_add](const json& o) {
        on_add(o);
        std::lock_guard lock(mu);
        // The store is swapped before handlers run: a deleted object is already absent, a new one
        // present.
        cache_during_handlers.push_back(
            std::string(inf.get("ns/gone") ? "gone-present" : "gone-absent") + "," +
            (inf.get(key_of(o)) ? "self-present" : "self-absent"));
    };
    inf.add_handler(h);
    inf.start();
    ASSERT_TRUE(inf.wait_for_sync(10s));
    EXPECT_EQ(rec.take().size(), 3u);
    {
        std::lock_guard lock(c.mu);
        c.objects.erase("ns/gone");
        c.objects["ns/change"] = app("ns", "change", "20");
        c.objects["ns/added"] = app("ns", "added", "21");
        c.list_rv = "200";
        cache_during_handlers.clear();
    }
    c.push(fail(Error::make(Error::Kind::gone, "too old resource version", "Expired")));
    ASSERT_TRUE(test::wait_until([&] { return rec.count() == 3; }));
    EXPECT_EQ(rec.take(), (std::vector<std::string>{"add ns/added@21", "update ns/change@2->20",
                                                    "delete ns/gone@3"}));
    EXPECT_EQ(inf.lists(), 2u);
    EXPECT_EQ(inf.resource_version(), "200");
    EXPECT_EQ(inf.size(), 3u);
    EXPECT_EQ(*inf.get("ns/change"), stripped(app("ns", "change", "20")));
    std::lock_guard lock(mu);
    EXPECT_EQ(cache_during_handlers, (std::vector<std::string>{"gone-absent,self-present"}));
    auto calls = c.seen_calls();
    EXPECT_EQ(calls.back(), "watch 200");
}

TEST(Informer, ForEachResyncAndLateHandlersDeliverEveryObject) {
    ScriptedClient c;
    for (int i = 0; i < 50; ++i)
        c.objects["ns/a" + std::to_string(i)] = app("ns", "a" + std::to_string(i), "1");
    auto io = options(7);
    io.resync = 50ms;
    Informer inf(c, io);
    Recorder rec;
    inf.add_handler(rec.handler());
    inf.start();
    ASSERT_TRUE(inf.wait_for_sync(10s));

    std::set<std::string> seen;
    inf.for_each([&](const json& o) {
        EXPECT_EQ(o, stripped(c.objects[key_of(o)]));
        seen.insert(key_of(o));
        EXPECT_TRUE(inf.get(key_of(o))) << "fn runs without the cache lock";
    });
    EXPECT_EQ(seen.size(), 50u);
    EXPECT_EQ(inf.list().size(), 50u);

    Recorder late;
    inf.add_handler(late.handler());
    auto added = late.take();
    EXPECT_EQ(added.size(), 50u);
    EXPECT_EQ(std::set<std::string>(added.begin(), added.end()).size(), 50u);

    // Resync: on_update(o, o) for every cached object.
    rec.take();
    ASSERT_TRUE(test::wait_until([&] { return rec.count() >= 50; }));
    inf.stop();
    std::set<std::string> resynced;
    for (const auto& l : rec.take()) {
        if (l.rfind("update ", 0) == 0 && l.find("@1->1") != std::string::npos) resynced.insert(l);
    }
    EXPECT_EQ(resynced.size(), 50u);
}

TEST(Informer, IndexFollowsAddsUpdatesDeletesAndRelists) {
    ScriptedClient c;
    c.objects["ns/a"] = app("ns", "a", "1", "reg/x");
    c.objects["ns/b"] = app("ns", "b", "1", "reg/x");
    c.objects["ns/c"] = app("ns", "c", "1", "reg/y");
    Informer inf(c, options());
    auto by_repo = [](const json& o) {
        return std::vector<std::string>{o["spec"]["image"].value("repository", "")};
    };
    ASSERT_TRUE(inf.add_index("repo", by_repo));
    EXPECT_FALSE(inf.add_index("repo", by_repo)) << "names are unique";
    Recorder rec;
    inf.add_handler(rec.handler());
    inf.start();
    EXPECT_FALSE(inf.add_index("late", by_repo)) << "only before start";
    ASSERT_TRUE(inf.wait_for_sync(10s));
    EXPECT_EQ(inf.index_values("repo"), (std::vector<std::string>{"reg/x", "reg/y"}));
    EXPECT_EQ(inf.index_keys("repo", "reg/x"), (std::vector<std::string>{"ns/a", "ns/b"}));
    EXPECT_TRUE(inf.index_keys("late", "reg/x").empty());

    c.push_event(kube::WatchEventType::modified, app("ns", "a", "2", "reg/y"));
    c.push_event(kube::WatchEventType::deleted, app("ns", "b", "3", "reg/x"));
    ASSERT_TRUE(test::wait_until([&] { return inf.resource_version() == "3"; }));
    EXPECT_EQ(inf.index_values("repo"), (std::vector<std::string>{"reg/y"}));
    EXPECT_EQ(inf.index_keys("repo", "reg/y"), (std::vector<std::string>{"ns/a", "ns/c"}));

    {
        std::lock_guard lock(c.mu);
        c.objects.clear();
        c.objects["ns/d"] = app("ns", "d", "5", "reg/z");
        c.list_rv = "300";
    }
    c.push(fail(Error::make(Error::Kind::gone, "expired", "Expired")));
    ASSERT_TRUE(test::wait_until([&] { return inf.resource_version() == "300"; }));
    EXPECT_EQ(inf.index_values("repo"), (std::vector<std::string>{"reg/z"}));
    EXPECT_EQ(inf.index_keys("repo", "reg/z"), (std::vector<std::string>{"ns/d"}));
}

TEST(Informer, AFailedPageRetriesTheWholeList) {
    ScriptedClient c;
    for (int i = 0; i < 4; ++i)
        c.objects["ns/a" + std::to_string(i)] = app("ns", "a" + std::to_string(i), "1");
    c.fail_list_page = 1;
    Informer inf(c, options());
    inf.start();
    ASSERT_TRUE(inf.wait_for_sync(10s));
    EXPECT_EQ(inf.size(), 4u);
    EXPECT_EQ(inf.lists(), 1u) << "only complete lists count";
    auto calls = c.seen_calls();
    EXPECT_EQ(std::vector<std::string>(calls.begin(), calls.begin() + 4),
              (std::vector<std::string>{"list ", "list 2", "list ", "list 2"}));
}

TEST(Informer, StripManagedFieldsLeavesEverythingElse) {
    json o = app("ns", "a", "1");
    json expected = o;
    expected["metadata"].erase("managedFields");
    strip_managed_fields(o);
    EXPECT_EQ(o, expected);
    json not_object = json::array({1, 2});
    strip_managed_fields(not_object);
    EXPECT_EQ(not_object, json::array({1, 2}));
}

}  // namespace
}  // namespace poetryops::runtime
