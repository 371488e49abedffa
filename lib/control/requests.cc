// lib/control/requests — the JSON of every request verb (protocol.h's table) and ParseRequest: a
// request line read as the server reads it, unambiguous or refused.
#include <set>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "lib/cni/invoke.h"
#include "lib/control/json_reader.h"
#include "lib/control/protocol.h"
#include "lib/strings/str_cat.h"

namespace mkn::control {
namespace {

using json = nlohmann::json;
using internal::Done;
using internal::Reader;

}  // namespace

// --- requests --------------------------------------------------------------------------------

json ToJson(const ServicesRequest&) { return json{{"verb", ServicesRequest::kVerb}}; }
json ToJson(const EndpointsRequest&) { return json{{"verb", EndpointsRequest::kVerb}}; }
json ToJson(const RoutesRequest&) { return json{{"verb", RoutesRequest::kVerb}}; }
json ToJson(const ConntrackRequest& r) {
  return json{{"verb", ConntrackRequest::kVerb}, {"node", r.node}};
}
json ToJson(const KillRequest& r) { return json{{"verb", KillRequest::kVerb}, {"pod", r.pod}}; }
json ToJson(const ScaleRequest& r) {
  return json{
      {"verb", ScaleRequest::kVerb}, {"deployment", r.deployment}, {"replicas", r.replicas}};
}
json ToJson(const CniRequest& r) {
  json j = {{"verb", CniRequest::kVerb}, {"cni_verb", r.verb}};
  if (!r.pod.empty()) j["pod"] = r.pod;
  if (!r.node.empty()) j["node"] = r.node;
  return j;
}
json ToJson(const ResyncRequest& r) {
  return json{{"verb", ResyncRequest::kVerb}, {"check", r.check}};
}
json ToJson(const OverlayRequest&) { return json{{"verb", OverlayRequest::kVerb}}; }
json ToJson(const DnsRequest&) { return json{{"verb", DnsRequest::kVerb}}; }
json ToJson(const Request& r) {
  return std::visit([](const auto& x) { return ToJson(x); }, r);
}

template <>
absl::StatusOr<ServicesRequest> FromJson(const json& j) {
  return Done(Reader(j, "", ServicesRequest::kVerb), ServicesRequest{});
}
template <>
absl::StatusOr<EndpointsRequest> FromJson(const json& j) {
  return Done(Reader(j, "", EndpointsRequest::kVerb), EndpointsRequest{});
}
template <>
absl::StatusOr<RoutesRequest> FromJson(const json& j) {
  return Done(Reader(j, "", RoutesRequest::kVerb), RoutesRequest{});
}
template <>
absl::StatusOr<ConntrackRequest> FromJson(const json& j) {
  Reader r(j, "", ConntrackRequest::kVerb);
  ConntrackRequest req;
  req.node = r.OptStr("node");
  return Done(r, std::move(req));
}
template <>
absl::StatusOr<KillRequest> FromJson(const json& j) {
  Reader r(j, "", KillRequest::kVerb);
  KillRequest req;
  req.pod = r.Str("pod");
  return Done(r, std::move(req));
}
template <>
absl::StatusOr<ScaleRequest> FromJson(const json& j) {
  Reader r(j, "", ScaleRequest::kVerb);
  ScaleRequest req;
  req.deployment = r.Str("deployment");
  req.replicas = static_cast<int>(r.Int("replicas", 0, config::kMaxPods));
  return Done(r, std::move(req));
}
template <>
absl::StatusOr<DnsRequest> FromJson(const json& j) {
  return Done(Reader(j, "", DnsRequest::kVerb), DnsRequest{});
}
template <>
absl::StatusOr<OverlayRequest> FromJson(const json& j) {
  return Done(Reader(j, "", OverlayRequest::kVerb), OverlayRequest{});
}
template <>
absl::StatusOr<CniRequest> FromJson(const json& j) {
  Reader r(j, "", CniRequest::kVerb);
  CniRequest req;
  req.verb = r.Str("cni_verb");
  req.pod = r.OptStr("pod");
  req.node = r.OptStr("node");
  if (r.ok() && !cni::CommandOfVerb(req.verb)) {
    r.Fail("cni_verb",
           StrCat("want add, check, del, status, gc or version, got \"", req.verb, "\""));
  }
  return Done(r, std::move(req));
}

json ToJson(const NetpolRequest& r) {
  json j = {{"verb", NetpolRequest::kVerb}, {"op", r.op}, {"dry_run", r.dry_run}};
  if (r.op == "apply") {
    j["file"] = r.file;
    j["text"] = r.text;
  } else {
    j["key"] = r.key;
  }
  return j;
}

template <>
absl::StatusOr<NetpolRequest> FromJson(const json& j) {
  Reader r(j, "", NetpolRequest::kVerb);
  NetpolRequest req;
  req.op = r.Str("op");
  req.dry_run = r.Has("dry_run") ? r.Bool("dry_run") : false;
  if (r.ok() && req.op == "apply") {
    req.file = r.Str("file");
    req.text = r.Str("text");
  } else if (r.ok() && req.op == "delete") {
    req.key = r.Str("key");
  } else if (r.ok()) {
    r.Fail("op", StrCat("want apply or delete, got \"", req.op, "\""));
  }
  return Done(r, std::move(req));
}

template <>
absl::StatusOr<ResyncRequest> FromJson(const json& j) {
  Reader r(j, "", ResyncRequest::kVerb);
  ResyncRequest req;
  req.check = r.Has("check") ? r.Bool("check") : false;
  return Done(r, std::move(req));
}

namespace {

template <typename R>
absl::StatusOr<Request> As(const json& j) {
  absl::StatusOr<R> r = FromJson<R>(j);
  if (!r.ok()) return r.status();
  return Request(std::move(*r));
}

}  // namespace

namespace {

// Requests nest two or three levels; the socket already caps a request's size.
constexpr int kMaxRequestDepth = 16;

// A request's JSON, refusing what two readers could read two ways: a key given twice in one
// object ({"verb":"get","verb":"kill"}: nlohmann keeps the last, another parser the first) and
// nesting deeper than any request needs. A discarded (invalid) value when it does not parse.
json ParseUnambiguous(std::string_view text, std::string* why) {
  std::vector<std::set<std::string>> keys;  // one set per open object
  bool bad = false;
  json::parser_callback_t cb = [&](int depth, json::parse_event_t event, json& parsed) {
    if (bad) return false;
    switch (event) {
      case json::parse_event_t::object_start:
        keys.emplace_back();
        break;
      case json::parse_event_t::object_end:
        if (!keys.empty()) keys.pop_back();
        break;
      case json::parse_event_t::key:
        if (!keys.empty() && !keys.back().insert(parsed.get<std::string>()).second) {
          *why = StrCat("the key \"", parsed.get<std::string>(), "\" is given twice");
          bad = true;
        }
        break;
      default:
        break;
    }
    if (depth > kMaxRequestDepth) {
      *why = StrCat("nested deeper than ", kMaxRequestDepth, " levels");
      bad = true;
    }
    return !bad;
  };
  json j = json::parse(text, cb, /*allow_exceptions=*/false);
  if (bad) return json(json::value_t::discarded);
  return j;
}

}  // namespace

absl::StatusOr<Request> ParseRequest(std::string_view text) {
  std::string why;
  json j = ParseUnambiguous(text, &why);
  if (!why.empty()) return absl::InvalidArgumentError(StrCat("bad request: ", why));
  if (!j.is_object() || !j.contains("verb") || !j["verb"].is_string())
    return absl::InvalidArgumentError("bad request: want {\"verb\": ...}");
  const std::string verb = j["verb"];
  if (verb == ServicesRequest::kVerb) return As<ServicesRequest>(j);
  if (verb == EndpointsRequest::kVerb) return As<EndpointsRequest>(j);
  if (verb == RoutesRequest::kVerb) return As<RoutesRequest>(j);
  if (verb == ConntrackRequest::kVerb) return As<ConntrackRequest>(j);
  if (verb == KillRequest::kVerb) return As<KillRequest>(j);
  if (verb == ScaleRequest::kVerb) return As<ScaleRequest>(j);
  if (verb == CniRequest::kVerb) return As<CniRequest>(j);
  if (verb == ResyncRequest::kVerb) return As<ResyncRequest>(j);
  if (verb == OverlayRequest::kVerb) return As<OverlayRequest>(j);
  if (verb == NetpolRequest::kVerb) return As<NetpolRequest>(j);
  if (verb == DnsRequest::kVerb) return As<DnsRequest>(j);
  return absl::InvalidArgumentError(StrCat("unknown verb \"", verb, "\""));
}

}  // namespace mkn::control
