#include <poetryops/schedule/window.hpp>

#include <date/date.h>
#include <date/tz.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <exception>

namespace poetryops::schedule {

namespace {

using std::chrono::days;
using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

constexpr std::array<std::string_view, 7> kWeekdays{"SU", "MO", "TU", "WE", "TH", "FR", "SA"};

std::string upper(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return out;
}

/// Parses one rule part; `at` is the 0-based offset of the part's value in the whole text.
struct Parser {
    std::string_view text;
    RRule rule;
    std::optional<Error> error;

    bool fail(std::size_t at, std::string_view token, std::string what) {
        if (!error) {
            error = Error::make(Error::Kind::invalid,
                                "at character " + std::to_string(at + 1) + " (\"" +
                                    std::string(token) + "\"): " + std::move(what),
                                "InvalidRRule");
        }
        return false;
    }

    /// A comma-separated list; `one` parses an item at its offset.
    template <class F>
    bool list(std::string_view value, std::size_t at, F&& one) {
        if (value.empty()) return fail(at, value, "an empty list");
        std::size_t start = 0;
        while (true) {
            std::size_t comma = value.find(',', start);
            std::string_view item =
                value.substr(start, comma == std::string_view::npos ? value.npos : comma - start);
            if (item.empty()) return fail(at + start, item, "an empty list item");
            if (!one(item, at + start)) return false;
            if (comma == std::string_view::npos) return true;
            start = comma + 1;
        }
    }

    static std::optional<int> integer(std::string_view s) {
        int sign = 1;
        if (!s.empty() && (s.front() == '+' || s.front() == '-')) {
            sign = s.front() == '-' ? -1 : 1;
            s.remove_prefix(1);
        }
        if (s.empty() || s.size() > 4) return std::nullopt;
        int v = 0;
        auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
        if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
        return sign * v;
    }

    bool numbers(std::string_view value, std::size_t at, int lo, int hi, bool negative,
                 std::vector<int>& out, std::string_view what) {
        out.clear();
        return list(value, at, [&](std::string_view item, std::size_t pos) {
            auto v = integer(item);
            bool in = v && ((*v >= lo && *v <= hi) || (negative && *v <= -lo && *v >= -hi));
            if (!in) {
                return fail(pos, item,
                            std::string("not ") + std::string(what) + " (" + std::to_string(lo) +
                                ".." + std::to_string(hi) +
                                (negative ? ", or -" + std::to_string(hi) + "..-" +
                                                std::to_string(lo) + " from the end"
                                          : std::string()) +
                                ")");
            }
            if (std::find(out.begin(), out.end(), *v) == out.end()) out.push_back(*v);
            return true;
        });
    }

    bool weekdays(std::string_view value, std::size_t at) {
        rule.days.clear();
        return list(value, at, [&](std::string_view item, std::size_t pos) {
            std::string u = upper(item);
            if (u.size() < 2) return fail(pos, item, "not a weekday (MO, TU, WE, TH, FR, SA, SU)");
            std::string_view name = std::string_view(u).substr(u.size() - 2);
            auto it = std::find(kWeekdays.begin(), kWeekdays.end(), name);
            if (it == kWeekdays.end())
                return fail(pos, item, "not a weekday (MO, TU, WE, TH, FR, SA, SU)");
            RRule::Day d;
            d.weekday = static_cast<int>(it - kWeekdays.begin());
            std::string_view n = std::string_view(u).substr(0, u.size() - 2);
            if (!n.empty()) {
                auto v = integer(n);
                if (!v || *v == 0 || *v > 53 || *v < -53)
                    return fail(pos, item,
                                "the ordinal before the weekday must be 1..53 or -53..-1");
                d.ordinal = *v;
            }
            rule.days.push_back(d);
            return true;
        });
    }

    bool until(std::string_view value, std::size_t at) {
        // YYYYMMDD, YYYYMMDDTHHMMSS (local) or YYYYMMDDTHHMMSSZ (UTC).
        auto digits = [](std::string_view s) {
            return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
                return std::isdigit(static_cast<unsigned char>(c)) != 0;
            });
        };
        const char* shape = "not a date (YYYYMMDD) or date-time (YYYYMMDDTHHMMSS, Z for UTC)";
        std::string_view date_part = value.substr(0, 8);
        if (value.size() < 8 || !digits(date_part)) return fail(at, value, shape);
        int y = 0, m = 0, d = 0, hh = 23, mm = 59, ss = 59;
        std::from_chars(date_part.data(), date_part.data() + 4, y);
        std::from_chars(date_part.data() + 4, date_part.data() + 6, m);
        std::from_chars(date_part.data() + 6, date_part.data() + 8, d);
        bool utc = false;
        if (value.size() > 8) {
            std::string_view rest = value.substr(8);
            if (!rest.empty() && (rest.back() == 'Z' || rest.back() == 'z')) {
                utc = true;
                rest.remove_suffix(1);
            }
            if (rest.size() != 7 || (rest[0] != 'T' && rest[0] != 't') || !digits(rest.substr(1)))
                return fail(at, value, shape);
            std::from_chars(rest.data() + 1, rest.data() + 3, hh);
            std::from_chars(rest.data() + 3, rest.data() + 5, mm);
            std::from_chars(rest.data() + 5, rest.data() + 7, ss);
        }
        date::year_month_day ymd{date::year{y}, date::month{static_cast<unsigned>(m)},
                                 date::day{static_cast<unsigned>(d)}};
        if (!ymd.ok() || hh > 23 || mm > 59 || ss > 60)
            return fail(at, value, "not a valid date or time");
        auto secs = date::sys_days{ymd}.time_since_epoch() + hours(hh) + minutes(mm) + seconds(ss);
        rule.until = std::chrono::duration_cast<seconds>(secs).count();
        rule.until_utc = utc;
        return true;
    }

    bool part(std::string_view name_in, std::string_view value, std::size_t name_at,
              std::size_t value_at) {
        std::string name = upper(name_in);
        if (name == "FREQ") {
            std::string v = upper(value);
            if (v == "DAILY")
                rule.freq = RRule::Freq::daily;
            else if (v == "WEEKLY")
                rule.freq = RRule::Freq::weekly;
            else if (v == "MONTHLY")
                rule.freq = RRule::Freq::monthly;
            else if (v == "YEARLY")
                rule.freq = RRule::Freq::yearly;
            else if (v == "SECONDLY" || v == "MINUTELY" || v == "HOURLY")
                return fail(value_at, value,
                            "FREQ=" + v +
                                " is not supported; use FREQ=DAILY with BYHOUR and "
                                "BYMINUTE");
            else
                return fail(value_at, value, "not a frequency (DAILY, WEEKLY, MONTHLY, YEARLY)");
            return true;
        }
        if (name == "INTERVAL") {
            auto v = integer(value);
            if (!v || *v < 1) return fail(value_at, value, "INTERVAL must be a positive number");
            if (*v != 1)
                return fail(value_at, value,
                            "INTERVAL other than 1 needs a DTSTART, and a window has none");
            return true;
        }
        if (name == "COUNT")
            return fail(name_at, name_in,
                        "COUNT needs a DTSTART, and a window has none; use UNTIL");
        if (name == "BYMONTH")
            return numbers(value, value_at, 1, 12, false, rule.months, "a month");
        if (name == "BYMONTHDAY")
            return numbers(value, value_at, 1, 31, true, rule.month_days, "a day of the month");
        if (name == "BYDAY") return weekdays(value, value_at);
        if (name == "BYHOUR") return numbers(value, value_at, 0, 23, false, rule.hours, "an hour");
        if (name == "BYMINUTE")
            return numbers(value, value_at, 0, 59, false, rule.minutes, "a minute");
        if (name == "BYSECOND") {
            std::vector<int> s;
            if (!numbers(value, value_at, 0, 59, false, s, "a second")) return false;
            if (s != std::vector<int>{0})
                return fail(value_at, value, "windows start on whole minutes: only BYSECOND=0");
            return true;
        }
        if (name == "UNTIL") return until(value, value_at);
        if (name == "WKST") {
            if (std::find(kWeekdays.begin(), kWeekdays.end(), upper(value)) == kWeekdays.end())
                return fail(value_at, value, "not a weekday (MO, TU, WE, TH, FR, SA, SU)");
            return true;  // only matters with INTERVAL > 1
        }
        if (name == "BYSETPOS" || name == "BYYEARDAY" || name == "BYWEEKNO")
            return fail(name_at, name_in, name + " is not supported in promotion windows");
        return fail(name_at, name_in,
                    "not a rule part (FREQ, BYMONTH, BYMONTHDAY, BYDAY, "
                    "BYHOUR, BYMINUTE, UNTIL, INTERVAL, WKST)");
    }

    Result<RRule> run() {
        std::size_t base = 0;
        std::string_view t = text;
        if (t.size() >= 6 && upper(t.substr(0, 6)) == "RRULE:") base = 6;
        if (t.size() > 1024) {
            fail(0, t.substr(0, 16), "a rule of more than 1024 characters");
            return *error;
        }
        std::vector<std::string> seen;
        bool freq = false;
        std::size_t start = base;
        while (start <= t.size()) {
            std::size_t semi = t.find(';', start);
            std::size_t end = semi == std::string_view::npos ? t.size() : semi;
            std::string_view p = t.substr(start, end - start);
            if (p.empty()) {
                if (semi == std::string_view::npos && start > base) break;  // a trailing ';'
                fail(start, p, "an empty rule part");
                return *error;
            }
            std::size_t eq = p.find('=');
            if (eq == std::string_view::npos || eq == 0) {
                fail(start, p, "not NAME=VALUE");
                return *error;
            }
            std::string name = upper(p.substr(0, eq));
            if (std::find(seen.begin(), seen.end(), name) != seen.end()) {
                fail(start, p.substr(0, eq), name + " appears twice");
                return *error;
            }
            seen.push_back(name);
            if (name == "FREQ") freq = true;
            if (!part(p.substr(0, eq), p.substr(eq + 1), start, start + eq + 1)) return *error;
            if (semi == std::string_view::npos) break;
            start = semi + 1;
        }
        if (!freq) {
            fail(0, t.substr(0, 16), "FREQ is required");
            return *error;
        }
        return check();
    }

    /// Rules RFC 5545 states between parts, and the ones that would need a DTSTART.
    Result<RRule> check() {
        using F = RRule::Freq;
        auto whole = [&](std::string what) {
            fail(0, text.substr(0, std::min<std::size_t>(text.size(), 24)), std::move(what));
            return *error;
        };
        bool ordinal = std::any_of(rule.days.begin(), rule.days.end(),
                                   [](const RRule::Day& d) { return d.ordinal != 0; });
        if (ordinal && rule.freq != F::monthly && rule.freq != F::yearly)
            return whole("BYDAY with an ordinal (1MO, -1FR) needs FREQ=MONTHLY or FREQ=YEARLY");
        if (rule.freq == F::weekly && !rule.month_days.empty())
            return whole("BYMONTHDAY cannot be used with FREQ=WEEKLY");
        if (rule.freq == F::weekly && rule.days.empty())
            return whole("FREQ=WEEKLY needs BYDAY (a window has no DTSTART to take the day from)");
        if (rule.freq == F::monthly && rule.days.empty() && rule.month_days.empty())
            return whole("FREQ=MONTHLY needs BYMONTHDAY or BYDAY (a window has no DTSTART)");
        if (rule.freq == F::yearly && rule.days.empty() && rule.month_days.empty())
            return whole("FREQ=YEARLY needs BYMONTHDAY or BYDAY (a window has no DTSTART)");
        return std::move(rule);
    }
};

const date::time_zone* find_zone(std::string_view name) {
    if (name.empty() || name.size() > 128) return nullptr;
    try {
        return date::locate_zone(name);
    } catch (const std::exception&) {
        return nullptr;
    }
}

/// Whether the local day `d` is one of the rule's days.
bool matches(const RRule& rule, date::year_month_day ymd) {
    using F = RRule::Freq;
    const unsigned m = static_cast<unsigned>(ymd.month());
    const int day = static_cast<int>(static_cast<unsigned>(ymd.day()));
    if (!rule.months.empty() &&
        std::find(rule.months.begin(), rule.months.end(), static_cast<int>(m)) == rule.months.end())
        return false;
    const int last = static_cast<int>(static_cast<unsigned>(
        date::year_month_day_last{ymd.year(), date::month_day_last{ymd.month()}}.day()));
    if (!rule.month_days.empty()) {
        bool any = false;
        for (int md : rule.month_days) any = any || md == day || (md < 0 && last + 1 + md == day);
        if (!any) return false;
    }
    if (!rule.days.empty()) {
        const date::sys_days sd{ymd};
        const int wd = static_cast<int>(date::weekday{sd}.c_encoding());
        // The ordinal counts within the month (MONTHLY, or YEARLY with BYMONTH), else the year.
        const bool in_month = rule.freq == F::monthly || !rule.months.empty();
        int nth = 0, nth_last = 0;
        if (in_month) {
            nth = (day - 1) / 7 + 1;
            nth_last = -((last - day) / 7 + 1);
        } else {
            const date::sys_days jan1{ymd.year() / date::January / 1};
            const date::sys_days dec31{ymd.year() / date::December / 31};
            const int yday = static_cast<int>((sd - jan1).count());
            const int to_end = static_cast<int>((dec31 - sd).count());
            nth = yday / 7 + 1;
            nth_last = -(to_end / 7 + 1);
        }
        bool any = false;
        for (const auto& d : rule.days) {
            if (d.weekday != wd) continue;
            any = any || d.ordinal == 0 || d.ordinal == nth || d.ordinal == nth_last;
        }
        if (!any) return false;
    }
    return true;
}

/// The instant of a local time in `zone` (RFC 5545 §3.3.5 for gaps and repeats).
TimePoint to_sys(const date::time_zone* zone, date::local_seconds local) {
    const date::local_info info = zone->get_info(local);
    // unique: first is the only offset; nonexistent: first is the offset before the gap;
    // ambiguous: first is the earlier of the two instants.
    return TimePoint(local.time_since_epoch() - info.first.offset);
}

date::local_days local_day(const date::time_zone* zone, TimePoint t) {
    auto local = zone->to_local(date::floor<seconds>(t));
    return date::floor<days>(local);
}

/// Unions `in` (sorted by begin) into disjoint intervals.
std::vector<Interval> merged(std::vector<Interval> in) {
    std::sort(in.begin(), in.end(),
              [](const Interval& a, const Interval& b) { return a.begin < b.begin; });
    std::vector<Interval> out;
    for (const auto& i : in) {
        if (i.end <= i.begin) continue;
        if (!out.empty() && i.begin <= out.back().end) {
            out.back().end = std::max(out.back().end, i.end);
        } else {
            out.push_back(i);
        }
    }
    return out;
}

/// `a` minus `b`, both disjoint and sorted.
std::vector<Interval> minus(const std::vector<Interval>& a, const std::vector<Interval>& b) {
    std::vector<Interval> out;
    std::size_t j = 0;
    for (Interval cur : a) {
        while (j < b.size() && b[j].end <= cur.begin) ++j;
        std::size_t k = j;
        while (k < b.size() && b[k].begin < cur.end) {
            if (b[k].begin > cur.begin) out.push_back({cur.begin, b[k].begin});
            cur.begin = std::max(cur.begin, b[k].end);
            if (cur.begin >= cur.end) break;
            ++k;
        }
        if (cur.begin < cur.end) out.push_back(cur);
    }
    return out;
}

std::string rule_text_of(std::size_t index, const Window& w) {
    return std::string(w.kind == WindowKind::allow ? "allow" : "deny") + " window " +
           std::to_string(index + 1);
}

}  // namespace

Result<RRule> parse_rrule(std::string_view text) {
    Parser p{text, {}, std::nullopt};
    return p.run();
}

std::string check_zone(std::string_view name) {
    if (find_zone(name)) return {};
    return "\"" + std::string(name) +
           "\" is not a time zone of the system's zoneinfo (an IANA name such as Europe/Paris, "
           "America/New_York or UTC)";
}

std::vector<Interval> occurrences(const RRule& rule, std::string_view zone_name,
                                  std::chrono::milliseconds length, TimePoint from, TimePoint to) {
    std::vector<Interval> out;
    const date::time_zone* zone = find_zone(zone_name);
    if (!zone || length.count() <= 0 || to <= from) return out;
    // Local days that can hold a start overlapping [from, to): one day of slack on each side
    // covers every UTC offset.
    const date::local_days first = local_day(zone, from - length) - days(1);
    const date::local_days last = local_day(zone, to) + days(1);
    std::vector<int> hrs = rule.hours, mins = rule.minutes;
    std::sort(hrs.begin(), hrs.end());
    std::sort(mins.begin(), mins.end());
    for (date::local_days d = first; d <= last; d += days(1)) {
        if (!matches(rule, date::year_month_day{date::sys_days{d.time_since_epoch()}})) continue;
        for (int h : hrs) {
            for (int m : mins) {
                const date::local_seconds local{d.time_since_epoch() + hours(h) + minutes(m)};
                if (rule.until) {
                    const std::int64_t limit = *rule.until;
                    const std::int64_t at = rule.until_utc
                                                ? std::chrono::duration_cast<seconds>(
                                                      to_sys(zone, local).time_since_epoch())
                                                      .count()
                                                : local.time_since_epoch().count();
                    if (at > limit) continue;
                }
                const TimePoint begin = to_sys(zone, local);
                const TimePoint end = begin + length;
                if (begin < to && end > from) out.push_back({begin, end});
            }
        }
    }
    std::sort(out.begin(), out.end(),
              [](const Interval& a, const Interval& b) { return a.begin < b.begin; });
    return out;
}

State evaluate(const std::vector<Window>& windows, TimePoint now, bool rollback) {
    State s;
    std::vector<std::size_t> relevant;
    for (std::size_t i = 0; i < windows.size(); ++i) {
        if (!rollback || windows[i].block_rollbacks) relevant.push_back(i);
    }
    if (relevant.empty()) return s;
    const bool has_allow = std::any_of(relevant.begin(), relevant.end(), [&](std::size_t i) {
        return windows[i].kind == WindowKind::allow;
    });
    // Look a week ahead first (the common case: daily and weekly windows), then a year.
    for (auto horizon : {days(8), days(400)}) {
        const TimePoint end = now + horizon;
        std::vector<Interval> allow, deny;
        for (std::size_t i : relevant) {
            const Window& w = windows[i];
            auto occ = occurrences(w.rule, w.zone, w.length, now, end);
            (w.kind == WindowKind::allow ? allow : deny)
                .insert(w.kind == WindowKind::allow ? allow.end() : deny.end(), occ.begin(),
                        occ.end());
        }
        for (auto& i : allow) i = {std::max(i.begin, now), std::min(i.end, end)};
        for (auto& i : deny) i = {std::max(i.begin, now), std::min(i.end, end)};
        const std::vector<Interval> open_spans =
            minus(has_allow ? merged(std::move(allow)) : std::vector<Interval>{{now, end}},
                  merged(std::move(deny)));
        s.open = !open_spans.empty() && open_spans.front().begin == now;
        s.next_open.reset();
        s.next_close.reset();
        if (s.open) {
            if (open_spans.front().end < end) s.next_close = open_spans.front().end;
            if (open_spans.size() > 1) s.next_open = open_spans[1].begin;
        } else if (!open_spans.empty()) {
            s.next_open = open_spans.front().begin;
            if (open_spans.front().end < end) s.next_close = open_spans.front().end;
        }
        const bool settled = s.open ? s.next_close && s.next_open : s.next_open && s.next_close;
        if (settled) break;
    }
    if (!s.open) {
        // Name what keeps it closed now: a deny window that contains now, else the allow windows.
        for (std::size_t i : relevant) {
            const Window& w = windows[i];
            if (w.kind != WindowKind::deny) continue;
            if (!occurrences(w.rule, w.zone, w.length, now, now + milliseconds(1)).empty()) {
                s.why = "inside " + rule_text_of(i, w);
                break;
            }
        }
        if (s.why.empty()) s.why = "outside every allow window";
    }
    return s;
}

}  // namespace poetryops::schedule
