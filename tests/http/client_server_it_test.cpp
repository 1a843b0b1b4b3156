// Client against the module's own Server over plain HTTP: requests, keep-alive, limits, timeouts,
// errors.
#include <poetryops/http/client.hpp>

#include <poetryops/http/server.hpp>
#include <poetryops/http/url.hpp>

#include "support/http/stall_server.hpp"
#include "support/support.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

namespace poetryops::http {
namespace {

using namespace std::chrono_literals;

Response echo(const Request& r) {
    Response resp = Response::make(200, r.method + " " + r.url + " " + r.body);
    resp.headers.set("X-Seen-Auth", r.headers.get_or("authorization", "none"));
    resp.headers.set("X-Content-Type", r.headers.get_or("CONTENT-TYPE", "none"));
    return resp;
}

std::unique_ptr<Client> make_client(ClientOptions o = {}) {
    auto c = Client::create(std::move(o));
    EXPECT_TRUE(c) << c.error().message;
    return std::move(c).value();
}

TEST(HttpClientServer, GetAndPost) {
    Server server;
    auto port = server.start({}, echo);
    ASSERT_TRUE(port) << port.error().message;
    EXPECT_NE(*port, 0);
    auto client = make_client();
    auto get = client->request({.method = "GET", .url = server.base_url() + "/healthz?x=1"});
    ASSERT_TRUE(get) << get.error().message;
    EXPECT_EQ(get->status, 200);
    EXPECT_EQ(get->reason, "OK");
    EXPECT_EQ(get->body, "GET /healthz?x=1 ");
    EXPECT_EQ(get->headers.get_or("content-type"), "text/plain; charset=utf-8");

    auto post = client->request(
        {.method = "POST",
         .url = server.base_url() + "/hook",
         .headers = {{"Content-Type", "application/json"}, {"Authorization", "Bearer t"}},
         .body = "{\"a\":1}"});
    ASSERT_TRUE(post) << post.error().message;
    EXPECT_EQ(post->body, "POST /hook {\"a\":1}");
    EXPECT_EQ(post->headers.get_or("x-seen-auth"), "Bearer t");
    EXPECT_EQ(post->headers.get_or("x-content-type"), "application/json");
    EXPECT_EQ(server.requests_handled(), 2u);
}

TEST(HttpClientServer, HeadHasNoBodyButLength) {
    Server server;
    ASSERT_TRUE(
        server.start({}, [](const Request&) { return Response::make(200, "twelve bytes"); }));
    auto client = make_client();
    auto r = client->request({.method = "HEAD", .url = server.base_url() + "/"});
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->body, "");
    EXPECT_EQ(r->headers.get_or("content-length"), "12");
    // The connection is still usable afterwards (no stray body bytes).
    auto g = client->request({.url = server.base_url() + "/"});
    ASSERT_TRUE(g) << g.error().message;
    EXPECT_EQ(g->body, "twelve bytes");
    EXPECT_EQ(client->connections_opened(), 1u);
}

TEST(HttpClientServer, KeepAliveReusesOneConnection) {
    Server server;
    ASSERT_TRUE(server.start({}, echo));
    auto client = make_client();
    for (int i = 0; i < 5; ++i) {
        auto r = client->request({.url = server.base_url() + "/n/" + std::to_string(i)});
        ASSERT_TRUE(r) << r.error().message;
        EXPECT_EQ(r->status, 200);
    }
    EXPECT_EQ(server.connections_accepted(), 1u);
    EXPECT_EQ(client->connections_opened(), 1u);
}

TEST(HttpClientServer, ConnectionCloseIsNotReused) {
    Server server;
    ASSERT_TRUE(server.start({}, echo));
    auto client = make_client();
    for (int i = 0; i < 3; ++i) {
        auto r =
            client->request({.url = server.base_url() + "/", .headers = {{"Connection", "close"}}});
        ASSERT_TRUE(r) << r.error().message;
    }
    EXPECT_EQ(server.connections_accepted(), 3u);
}

TEST(HttpClientServer, IdleConnectionClosedByServerIsReplaced) {
    ServerOptions o;
    o.read_timeout = 100ms;  // the server drops idle keep-alive connections quickly
    Server server;
    ASSERT_TRUE(server.start(o, echo));
    auto client = make_client();
    ASSERT_TRUE(client->request({.url = server.base_url() + "/a"}));
    ASSERT_TRUE(test::wait_until([&] { return server.connections_accepted() == 1; }, 2s));
    std::this_thread::sleep_for(
        600ms);  // let the server's idle timeout pass (the behaviour under test)
    auto r = client->request({.method = "DELETE", .url = server.base_url() + "/b"});
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->body, "DELETE /b ");
    EXPECT_EQ(server.connections_accepted(), 2u);
}

/// A raw TCP client on 127.0.0.1:`port` that sends `head` one byte every `gap` (as a slowloris
/// does) until the server answers or closes; what the server sent, and whether it had sent
/// everything.
struct Trickled {
    std::string answer;
    std::size_t sent = 0;
};
Trickled trickle(std::uint16_t port, const std::string& head, std::chrono::milliseconds gap) {
    Trickled t;
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    EXPECT_GE(fd, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    auto until = std::chrono::steady_clock::now() + 10s;
    bool eof = false;
    while (!eof && std::chrono::steady_clock::now() < until) {
        if (t.sent < head.size() && ::send(fd, head.data() + t.sent, 1, MSG_NOSIGNAL) == 1)
            ++t.sent;
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(gap.count())) <= 0) continue;
        char buf[4096];
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) eof = true;
        if (n > 0) t.answer.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fd);
    return t;
}

TEST(HttpServer, AHeaderTrickledPastTheReadTimeoutIsAnswered408) {
    ServerOptions o;
    o.read_timeout = 1s;
    std::atomic<int> calls{0};
    Server server;
    ASSERT_TRUE(server.start(o, [&](const Request&) {
        ++calls;
        return Response::make(200, "ok");
    }));
    const std::string head =
        "GET /webhooks/registry HTTP/1.1\r\nHost: x\r\nX-Slow: " + std::string(100, 'a') +
        "\r\n\r\n";
    auto started = std::chrono::steady_clock::now();
    Trickled t = trickle(server.port(), head, 100ms);
    auto took = std::chrono::steady_clock::now() - started;
    EXPECT_LT(t.sent, head.size()) << "the header was never complete";
    EXPECT_EQ(t.answer.rfind("HTTP/1.1 408 Request Timeout\r\n", 0), 0u) << t.answer;
    EXPECT_NE(t.answer.find("Connection: close\r\n"), std::string::npos) << t.answer;
    EXPECT_GE(took, 900ms);
    EXPECT_LT(took, 5s);
    EXPECT_EQ(calls.load(), 0);

    // A connection that sent nothing is closed without an answer (an idle keep-alive).
    Trickled idle = trickle(server.port(), "", 100ms);
    EXPECT_EQ(idle.answer, "");
}

TEST(HttpClientServer, ConcurrentRequestsFromManyThreads) {
    ServerOptions o;
    o.worker_threads = 4;
    Server server;
    ASSERT_TRUE(server.start(o, echo));
    auto client = make_client();
    std::atomic<int> ok{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 6; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < 15; ++i) {
                std::string path = "/t" + std::to_string(t) + "/" + std::to_string(i);
                auto r = client->request({.url = server.base_url() + path});
                if (r && r->body == "GET " + path + " ") ++ok;
            }
        });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(ok.load(), 90);
    EXPECT_LE(client->connections_opened(), 6u + 6u);
}

TEST(HttpClientServer, RedirectIsReturnedNotFollowed) {
    Server server;
    ASSERT_TRUE(server.start({}, [](const Request& r) {
        if (r.url == "/old") {
            Response resp = Response::make(302);
            resp.headers.set("Location", "/new?x=1");
            return resp;
        }
        return Response::make(200, "new");
    }));
    auto client = make_client();
    auto r = client->request(
        {.url = server.base_url() + "/old", .headers = {{"Authorization", "Bearer x"}}});
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->status, 302);
    EXPECT_EQ(server.requests_handled(), 1u);
    auto base = parse_url(server.base_url() + "/old").value();
    auto next = resolve_redirect(base, r->headers.get_or("location"));
    ASSERT_TRUE(next);
    EXPECT_TRUE(same_origin(base, *next));
    auto followed = client->request({.url = next->str()});
    ASSERT_TRUE(followed);
    EXPECT_EQ(followed->body, "new");
}

TEST(HttpClientServer, ResponseSizeLimit) {
    Server server;
    ASSERT_TRUE(server.start({}, [](const Request& r) {
        if (r.url == "/big") return Response::make(200, std::string(2u << 20, 'x'));
        Response resp = Response::make(200);
        resp.stream = [](ResponseWriter& w) {
            for (int i = 0; i < 64 && w.write(std::string(64 * 1024, 'y')); ++i) {
            }
        };
        return resp;
    }));
    ClientOptions o;
    o.max_response_bytes = 1u << 20;
    auto client = make_client(o);
    auto big = client->request({.url = server.base_url() + "/big"});
    ASSERT_FALSE(big);
    EXPECT_EQ(big.error().kind, Error::Kind::invalid);
    EXPECT_NE(big.error().message.find("size limit"), std::string::npos) << big.error().message;
    auto chunked = client->request({.url = server.base_url() + "/chunked"});
    ASSERT_FALSE(chunked);
    EXPECT_EQ(chunked.error().kind, Error::Kind::invalid) << chunked.error().message;
    // Below the limit it works.
    o.max_response_bytes = 8u << 20;
    auto roomy = make_client(o);
    auto ok = roomy->request({.url = server.base_url() + "/big"});
    ASSERT_TRUE(ok) << ok.error().message;
    EXPECT_EQ(ok->body.size(), 2u << 20);
}

TEST(HttpClientServer, OversizeRequestBodyGets413WithoutCallingHandler) {
    ServerOptions o;
    o.max_body_bytes = 64 * 1024;
    std::atomic<int> calls{0};
    Server server;
    ASSERT_TRUE(server.start(o, [&](const Request& r) {
        ++calls;
        return Response::make(200, std::to_string(r.body.size()));
    }));
    auto client = make_client();
    auto small = client->request(
        {.method = "POST", .url = server.base_url() + "/hook", .body = std::string(1000, 'a')});
    ASSERT_TRUE(small) << small.error().message;
    EXPECT_EQ(small->body, "1000");
    auto big = client->request(
        {.method = "POST", .url = server.base_url() + "/hook", .body = std::string(2u << 20, 'a')});
    ASSERT_TRUE(big) << big.error().message;
    EXPECT_EQ(big->status, 413);
    EXPECT_EQ(calls.load(), 1);
}

TEST(HttpClientServer, HandlerExceptionBecomes500) {
    Server server;
    ASSERT_TRUE(
        server.start({}, [](const Request&) -> Response { throw std::runtime_error("boom"); }));
    auto client = make_client();
    auto r = client->request({.url = server.base_url() + "/"});
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->status, 500);
    // The server keeps serving.
    auto again = client->request({.url = server.base_url() + "/"});
    ASSERT_TRUE(again);
    EXPECT_EQ(again->status, 500);
}

TEST(HttpClientServer, StalledServerTimesOutWithinTheConfiguredTime) {
    test::StallServer stall;  // accepts connections, never answers
    ClientOptions o;
    o.read_timeout = 300ms;
    auto client = make_client(o);
    auto start = std::chrono::steady_clock::now();
    auto r = client->request({.url = "http://127.0.0.1:" + std::to_string(stall.port()) + "/x",
                              .headers = {{"Authorization", "Bearer supersecret-token-value"}}});
    auto elapsed = std::chrono::steady_clock::now() - start;
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().kind, Error::Kind::timeout);
    EXPECT_NE(r.error().message.find("127.0.0.1:" + std::to_string(stall.port())),
              std::string::npos)
        << r.error().message;
    EXPECT_NE(r.error().message.find("reading the response"), std::string::npos)
        << r.error().message;
    EXPECT_EQ(r.error().message.find("supersecret"), std::string::npos) << r.error().message;
    EXPECT_GE(elapsed, 290ms);
    EXPECT_LT(elapsed, 2s);
}

TEST(HttpClientServer, PerRequestTimeoutOverridesDefault) {
    test::StallServer stall;
    auto client = make_client();  // default read timeout: 60 s
    auto start = std::chrono::steady_clock::now();
    auto r = client->request(
        {.url = "http://127.0.0.1:" + std::to_string(stall.port()) + "/", .timeout = 200ms});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().kind, Error::Kind::timeout);
    EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
}

TEST(HttpClientServer, ConnectionRefusedIsTransportError) {
    int port = test::free_port();
    auto client = make_client();
    auto r = client->request({.url = "http://127.0.0.1:" + std::to_string(port) + "/",
                              .headers = {{"Authorization", "Basic dXNlcjpwYXNzd29yZA=="}}});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().kind, Error::Kind::transport);
    EXPECT_NE(r.error().message.find("127.0.0.1:" + std::to_string(port)), std::string::npos)
        << r.error().message;
    EXPECT_NE(r.error().message.find("refused"), std::string::npos) << r.error().message;
    EXPECT_EQ(r.error().message.find("dXNlcjpwYXNzd29yZA"), std::string::npos);
}

TEST(HttpClientServer, RejectsHeaderInjectionAndBadUrls) {
    auto client = make_client();
    auto r =
        client->request({.url = "http://127.0.0.1:1/", .headers = {{"X-A", "v\r\nInjected: 1"}}});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().kind, Error::Kind::invalid);
    auto u = client->request({.url = "http://user:pw@127.0.0.1:1/"});
    ASSERT_FALSE(u);
    EXPECT_EQ(u.error().kind, Error::Kind::invalid);
    EXPECT_EQ(u.error().message.find("pw"), std::string::npos);
}

TEST(HttpServer, BindsRequestedPortAndRefusesBusyPort) {
    int port = test::free_port();
    Server a;
    auto p = a.start({.port = static_cast<std::uint16_t>(port)}, echo);
    ASSERT_TRUE(p) << p.error().message;
    EXPECT_EQ(*p, port);
    EXPECT_TRUE(test::port_open(port));
    Server b;
    auto busy = b.start({.port = static_cast<std::uint16_t>(port)}, echo);
    ASSERT_FALSE(busy);
    EXPECT_NE(busy.error().message.find("127.0.0.1:" + std::to_string(port)), std::string::npos)
        << busy.error().message;
    a.stop();
    EXPECT_FALSE(test::port_open(port));
}

TEST(HttpServer, StopWaitsForInFlightHandler) {
    std::atomic<bool> entered{false};
    Server server;
    ASSERT_TRUE(server.start({}, [&](const Request&) {
        entered = true;
        std::this_thread::sleep_for(300ms);
        return Response::make(200, "finished");
    }));
    auto client = make_client();
    Result<Response> result = fail(Error::Kind::internal, "not run");
    std::thread t([&] { result = client->request({.url = server.base_url() + "/slow"}); });
    ASSERT_TRUE(test::wait_until([&] { return entered.load(); }, 5s));
    server.stop();
    t.join();
    ASSERT_TRUE(result) << result.error().message;
    EXPECT_EQ(result->body, "finished");
}

}  // namespace
}  // namespace poetryops::http
