// Streamed responses: chunked bodies read incrementally, idle timeouts, cancellation, server stop.
#include <poetryops/http/client.hpp>

#include <poetryops/http/server.hpp>

#include "support/support.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace poetryops::http {
namespace {

using namespace std::chrono_literals;

/// A gate the test opens step by step, so the server writes its next event only when told.
class Gate {
public:
    void open(int step) {
        std::lock_guard lock(mu_);
        step_ = step;
        cv_.notify_all();
    }
    bool wait(int step, ResponseWriter& w) {
        std::unique_lock lock(mu_);
        while (step_ < step) {
            if (w.cancelled()) return false;
            cv_.wait_for(lock, 20ms);
        }
        return true;
    }

private:
    std::mutex mu_;
    std::condition_variable cv_;
    int step_ = 0;
};

std::unique_ptr<Client> make_client(ClientOptions o = {}) {
    return Client::create(std::move(o)).value();
}

TEST(HttpStream, ChunkedBodyArrivesInPieces) {
    Gate gate;
    std::atomic<bool> finished{false};
    Server server;
    ASSERT_TRUE(server.start({}, [&](const Request&) {
        Response r = Response::make(200, "", "application/json");
        r.stream = [&](ResponseWriter& w) {
            w.write("{\"type\":\"ADDED\"}\n{\"type\":");  // an event split across chunks
            if (gate.wait(1, w)) w.write("\"MODIFIED\"}\n");
            if (gate.wait(2, w)) finished = true;
        };
        return r;
    }));
    auto client = make_client();
    auto s = client->open({.url = server.base_url() + "/watch"});
    ASSERT_TRUE(s) << s.error().message;
    auto& stream = **s;
    EXPECT_EQ(stream.response().status, 200);
    EXPECT_EQ(stream.response().headers.get_or("content-type"), "application/json");
    EXPECT_EQ(stream.response().headers.get_or("transfer-encoding"), "chunked");
    std::string got;
    while (got.size() < 25) {
        auto n = stream.read_some(got);
        ASSERT_TRUE(n) << n.error().message;
        ASSERT_GT(*n, 0u);
    }
    EXPECT_EQ(got, "{\"type\":\"ADDED\"}\n{\"type\":");  // before the server wrote the rest
    gate.open(1);
    while (got.find("MODIFIED\"}\n") == std::string::npos) {
        auto n = stream.read_some(got);
        ASSERT_TRUE(n) << n.error().message;
        ASSERT_GT(*n, 0u);
    }
    gate.open(2);
    std::string rest;
    auto end = stream.read_some(rest);
    ASSERT_TRUE(end) << end.error().message;
    EXPECT_EQ(*end, 0u);
    EXPECT_TRUE(stream.done());
    EXPECT_TRUE(finished.load());
}

TEST(HttpStream, IdleTimeoutIsReArmedPerRead) {
    Server server;
    ASSERT_TRUE(server.start({}, [](const Request&) {
        Response r = Response::make(200);
        r.stream = [](ResponseWriter& w) {
            // Events every 150 ms for 900 ms: longer than the idle timeout in total, never idle
            // that long.
            for (int i = 0; i < 6 && !w.wait_cancelled(150ms); ++i) w.write("tick\n");
            w.wait_cancelled(30s);  // then silence
        };
        return r;
    }));
    auto client = make_client();
    auto s = client->open({.url = server.base_url() + "/w"}, {.idle_timeout = 500ms});
    ASSERT_TRUE(s) << s.error().message;
    std::string got;
    while (got.size() < 30) {
        auto n = (*s)->read_some(got);
        ASSERT_TRUE(n) << n.error().message;
    }
    auto start = std::chrono::steady_clock::now();
    auto silent = (*s)->read_some(got);
    ASSERT_FALSE(silent);
    EXPECT_EQ(silent.error().kind, Error::Kind::timeout);
    EXPECT_NE(silent.error().message.find("127.0.0.1:" + std::to_string(server.port())),
              std::string::npos)
        << silent.error().message;
    EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
}

TEST(HttpStream, CancelFromAnotherThreadEndsReadAndServerSeesDisconnect) {
    std::atomic<bool> handler_done{false};
    Server server;
    ASSERT_TRUE(server.start({}, [&](const Request&) {
        Response r = Response::make(200);
        r.stream = [&](ResponseWriter& w) {
            w.write("first\n");
            w.wait_cancelled(60s);
            handler_done = true;
        };
        return r;
    }));
    auto client = make_client();
    auto s = client->open({.url = server.base_url() + "/w"}, {.idle_timeout = 30s});
    ASSERT_TRUE(s);
    std::string got;
    ASSERT_TRUE((*s)->read_some(got));
    std::thread canceller([&] {
        std::this_thread::sleep_for(100ms);  // let the reader block first
        (*s)->cancel();
    });
    auto start = std::chrono::steady_clock::now();
    auto r = (*s)->read_some(got);
    canceller.join();
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().reason, "Cancelled");
    EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
    EXPECT_TRUE(test::wait_until([&] { return handler_done.load(); },
                                 5s));  // server noticed the client left
}

TEST(HttpStream, StopCutsLongStreams) {
    Server server;
    ASSERT_TRUE(server.start({}, [](const Request&) {
        Response r = Response::make(200);
        r.stream = [](ResponseWriter& w) {
            while (!w.wait_cancelled(50ms)) w.write("event\n");
        };
        return r;
    }));
    auto client = make_client();
    auto s = client->open({.url = server.base_url() + "/w"});
    ASSERT_TRUE(s);
    std::string got;
    ASSERT_TRUE((*s)->read_some(got));
    auto start = std::chrono::steady_clock::now();
    server.stop();
    EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
    // The client sees the end of the stream (an error: no final chunk) promptly.
    Result<std::size_t> r = std::size_t{1};
    while (r && *r > 0) r = (*s)->read_some(got);
    EXPECT_FALSE(r);
}

TEST(HttpStream, ByteLimitAndCallbackHelper) {
    Server server;
    ASSERT_TRUE(server.start({}, [](const Request&) {
        Response r = Response::make(200);
        r.stream = [](ResponseWriter& w) {
            for (int i = 0; i < 10; ++i) w.write(std::string(1000, 'a'));
        };
        return r;
    }));
    auto client = make_client();
    std::string all;
    auto head = client->stream({.url = server.base_url() + "/"}, [&](std::string_view d) {
        all += d;
        return true;
    });
    ASSERT_TRUE(head) << head.error().message;
    EXPECT_EQ(head->status, 200);
    EXPECT_EQ(all.size(), 10000u);
    auto limited = client->stream({.url = server.base_url() + "/"},
                                  [](std::string_view) { return true; }, {.max_body_bytes = 4000});
    ASSERT_FALSE(limited);
    EXPECT_EQ(limited.error().kind, Error::Kind::invalid);
    // Stopping early from the callback is not an error.
    int calls = 0;
    auto early = client->stream({.url = server.base_url() + "/"},
                                [&](std::string_view) { return ++calls < 1; });
    ASSERT_TRUE(early);
    EXPECT_EQ(calls, 1);
}

TEST(HttpStream, FullyReadStreamReturnsConnectionToPool) {
    Server server;
    ASSERT_TRUE(server.start({}, [](const Request& r) {
        if (r.url == "/plain") return Response::make(200, "plain body");
        return Response::make(404);
    }));
    auto client = make_client();
    for (int i = 0; i < 3; ++i) {
        auto s = client->open({.url = server.base_url() + "/plain"});
        ASSERT_TRUE(s) << s.error().message;
        std::string got;
        for (;;) {
            auto n = (*s)->read_some(got);
            ASSERT_TRUE(n) << n.error().message;
            if (*n == 0) break;
        }
        EXPECT_EQ(got, "plain body");
    }
    EXPECT_EQ(server.connections_accepted(), 1u);
}

}  // namespace
}  // namespace poetryops::http
