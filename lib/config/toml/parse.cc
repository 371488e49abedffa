// Parse(): TOML → RawConfig, reporting syntax, unknown keys and wrong types with positions. This
// file is the lab file's schema (which tables and keys exist, and what each is read as); how one
// table is read is TableReader's (table_reader.h).

#include <toml++/toml.h>

#include <string>
#include <utility>
#include <vector>

#include "lib/config/toml/load.h"
#include "lib/config/toml/prescan.h"
#include "lib/config/toml/table_reader.h"
#include "lib/strings/str_cat.h"

namespace mkn::config {
namespace {

using internal::EachTable;
using internal::Label;
using internal::PeekName;
using internal::PosOf;
using internal::TableReader;
using internal::TypeName;

RawContainer ParseContainer(const toml::table& t, const std::string& owner, size_t i,
                            Diagnostics& d) {
  RawContainer c;
  Field<std::string> name;
  if (const auto* s = t.get_as<std::string>("name")) name = {s->get(), {}, true};
  TableReader r(t, StrCat(owner, ": ", Label("container", name, i)), d);
  c.pos = r.pos();
  r.Str("name", c.name);
  r.Str("app", c.app);
  r.Int("port", c.port);
  r.StrList("command", c.command);
  r.Map("env", c.env);
  EachTable(r, "ports", [&](const toml::table& pt, size_t) {
    RawContainerPort p;
    TableReader pr(pt, StrCat(owner, ": ", Label("container", name, i), ": ports"), d);
    p.pos = pr.pos();
    pr.Str("name", p.name);
    pr.Int("port", p.port);
    pr.Str("protocol", p.protocol);
    pr.Finish();
    c.ports.push_back(std::move(p));
  });
  r.Finish();
  return c;
}

std::vector<RawContainer> ParseContainers(TableReader& r, const std::string& owner,
                                          Diagnostics& d) {
  std::vector<RawContainer> out;
  EachTable(r, "container",
            [&](const toml::table& t, size_t i) { out.push_back(ParseContainer(t, owner, i, d)); });
  return out;
}

void ParseBackend(TableReader& r, RawBackend& b) {
  b.pos = r.pos();
  r.Str("service", b.service);
  r.Port("port", b.port);
}

// headers = [{ name = "x", value = "y" }], and the like.
std::vector<RawNameValue> ParseNameValues(TableReader& r, std::string_view key,
                                          const std::string& label, bool with_type,
                                          Diagnostics& d) {
  std::vector<RawNameValue> out;
  EachTable(r, key, [&](const toml::table& t, size_t) {
    RawNameValue nv;
    TableReader tr(t, StrCat(label, ": ", key), d);
    nv.pos = tr.pos();
    tr.Str("name", nv.name);
    tr.Str("value", nv.value);
    if (with_type) tr.Str("type", nv.type);
    tr.Finish();
    out.push_back(std::move(nv));
  });
  return out;
}

RawHttpRouteMatch ParseMatch(const toml::table& t, const std::string& label, Diagnostics& d) {
  RawHttpRouteMatch m;
  TableReader r(t, label, d);
  m.pos = m.path_pos = r.pos();
  m.path_type.pos = m.path_value.pos = r.pos();
  if (const toml::node* n = r.Get("path")) {
    m.path_pos = m.path_type.pos = m.path_value.pos = PosOf(*n);
    if (const auto* s = n->as_string()) {  // the flat form: a PathPrefix
      m.path_value = {s->get(), PosOf(*n), true};
    } else if (const auto* pt = n->as_table()) {
      TableReader pr(*pt, StrCat(label, ": path"), d);
      pr.Str("type", m.path_type);
      pr.Str("value", m.path_value);
      pr.Finish();
    } else {
      m.path_value.bad = true;
      d.Error(PosOf(*n),
              StrCat(label,
                     ": path: expected a table like { type = \"PathPrefix\", value = \"/\" } "
                     "or a string, got ",
                     TypeName(*n)));
    }
  }
  r.Str("method", m.method);
  m.headers = ParseNameValues(r, "headers", label, true, d);
  m.query_params = ParseNameValues(r, "query_params", label, true, d);
  r.Finish();
  return m;
}

RawHttpRouteRule ParseRouteRule(const toml::table& t, const std::string& label, Diagnostics& d) {
  RawHttpRouteRule rule;
  TableReader r(t, label, d);
  rule.pos = r.pos();
  EachTable(r, "matches", [&](const toml::table& mt, size_t k) {
    rule.matches.push_back(ParseMatch(mt, StrCat(label, ": match #", k + 1), d));
  });
  rule.has_backend_refs = r.Has("backend_refs");
  EachTable(r, "backend_refs", [&](const toml::table& bt, size_t) {
    RawBackendRef b;
    TableReader br(bt, StrCat(label, ": backend_refs"), d);
    ParseBackend(br, b.backend);
    br.Int("weight", b.weight);
    br.Finish();
    rule.backend_refs.push_back(std::move(b));
  });
  if (const toml::table* mt = r.Table("request_header_modifier")) {
    std::string mlabel = StrCat(label, ": request_header_modifier");
    TableReader mr(*mt, mlabel, d);
    rule.has_modifier = true;
    rule.modifier.pos = mr.pos();
    rule.modifier.set = ParseNameValues(mr, "set", mlabel, false, d);
    rule.modifier.add = ParseNameValues(mr, "add", mlabel, false, d);
    mr.StrList("remove", rule.modifier.remove);
    mr.Finish();
  }
  if (const toml::table* rt = r.Table("request_redirect")) {
    TableReader rr(*rt, StrCat(label, ": request_redirect"), d);
    rule.has_redirect = true;
    rule.redirect.pos = rr.pos();
    rr.Str("scheme", rule.redirect.scheme);
    rr.Str("hostname", rule.redirect.hostname);
    rr.Int("port", rule.redirect.port);
    rr.Int("status_code", rule.redirect.status_code);
    rr.Finish();
  }
  r.Finish();
  return rule;
}

// [cni], or a node's `cni = { ... }`.
RawCni ParseCni(const toml::table& t, const std::string& context, Diagnostics& diags,
                bool node_level) {
  RawCni c;
  TableReader r(t, context, diags);
  c.present = true;
  c.pos = r.pos();
  r.Str("conflist", c.conflist);
  r.PathList("bin_dir", c.bin_dir);
  r.Int("timeout", c.timeout);
  r.Str("ifname", c.ifname);
  if (!node_level) r.Str("node_routes", c.node_routes);
  r.Finish();
  return c;
}

// A pod's CNI_ARGS and capability args, keys of the [[pod]] table itself.
void ParsePodCni(TableReader& r, const std::string& label, Diagnostics& diags, RawPodCni& out) {
  r.Map("cni_args", out.args);
  EachTable(r, "port_mappings", [&](const toml::table& t, size_t i) {
    RawPortMapping m;
    TableReader mr(t, StrCat(label, ": port_mappings[", i, "]"), diags);
    m.pos = mr.pos();
    mr.Int("host_port", m.host_port);
    mr.Int("container_port", m.container_port);
    mr.Str("protocol", m.protocol);
    mr.Str("host_ip", m.host_ip);
    mr.Finish();
    out.port_mappings.push_back(std::move(m));
  });
  if (const toml::table* bt = r.Table("bandwidth")) {
    TableReader br(*bt, StrCat(label, ": bandwidth"), diags);
    out.has_bandwidth = true;
    out.bandwidth_pos = br.pos();
    br.Int("ingress_rate", out.ingress_rate);
    br.Int("ingress_burst", out.ingress_burst);
    br.Int("egress_rate", out.egress_rate);
    br.Int("egress_burst", out.egress_burst);
    br.Finish();
  }
  r.StrList("ips", out.ips);
  r.Str("mac", out.mac);
}

// [[expect]]'s `from` / `to`: a string, or a selector table of strings ({ app = "web" }).
void ParseExpectEnd(TableReader& r, std::string_view key, const std::string& label, Diagnostics& d,
                    RawExpectEnd& out) {
  out.pos = out.name.pos = out.selector.pos = r.pos();
  const toml::node* n = r.Get(key);
  if (n == nullptr) return;
  out.pos = out.name.pos = out.selector.pos = PosOf(*n);
  if (const auto* s = n->as_string()) {
    out.name = {s->get(), PosOf(*n), true};
    return;
  }
  if (const toml::table* t = n->as_table()) {
    out.selector.set = true;
    for (const auto& [k, v] : *t) {
      if (const auto* vs = v.as_string()) {
        out.selector.value[std::string(k.str())] = vs->get();
      } else {
        out.selector.set = false;
        out.selector.bad = true;
        d.Error(PosOf(v), StrCat(label, ": ", key, ": label \"", k.str(),
                                 "\" must be a string, got ", TypeName(v)));
      }
    }
    return;
  }
  out.name.bad = true;
  d.Error(PosOf(*n), StrCat(label, ": ", key,
                            ": expected a name like \"client\" or \"svc/web\", or a selector "
                            "like { app = \"web\" }, got ",
                            TypeName(*n)));
}

// pod_selector = { match_labels = {...}, match_expressions = [{ key, operator, values }] }
void ParseSelector(TableReader& r, std::string_view key, const std::string& label, Diagnostics& d,
                   RawLabelSelector& out) {
  out.pos = r.pos();
  const toml::table* t = r.Table(key);
  if (t == nullptr) return;
  TableReader sr(*t, StrCat(label, ": ", key), d);
  out.present = true;
  out.pos = sr.pos();
  sr.Map("match_labels", out.match_labels);
  EachTable(sr, "match_expressions", [&](const toml::table& et, size_t) {
    RawSelectorRequirement q;
    TableReader er(et, StrCat(label, ": ", key, ": match_expressions"), d);
    q.pos = er.pos();
    er.Str("key", q.key);
    er.Str("operator", q.op);
    er.StrList("values", q.values);
    er.Finish();
    out.match_expressions.push_back(std::move(q));
  });
  sr.Finish();
}

RawPolicyRule ParsePolicyRule(const toml::table& t, std::string_view peers_key,
                              const std::string& label, Diagnostics& d) {
  RawPolicyRule rule;
  TableReader r(t, label, d);
  rule.pos = r.pos();
  rule.has_peers = r.Has(peers_key);
  EachTable(r, peers_key, [&](const toml::table& pt, size_t k) {
    RawPolicyPeer peer;
    std::string plabel = StrCat(label, ": ", peers_key, " #", k + 1);
    TableReader pr(pt, plabel, d);
    peer.pos = pr.pos();
    ParseSelector(pr, "pod_selector", plabel, d, peer.pod_selector);
    ParseSelector(pr, "namespace_selector", plabel, d, peer.namespace_selector);
    peer.ip_block.pos = pr.pos();
    if (const toml::table* bt = pr.Table("ip_block")) {
      TableReader br(*bt, StrCat(plabel, ": ip_block"), d);
      peer.ip_block.present = true;
      peer.ip_block.pos = br.pos();
      br.Str("cidr", peer.ip_block.cidr);
      br.StrList("except", peer.ip_block.except);
      br.Finish();
    }
    pr.Finish();
    rule.peers.push_back(std::move(peer));
  });
  rule.has_ports = r.Has("ports");
  EachTable(r, "ports", [&](const toml::table& pt, size_t) {
    RawPolicyPort port;
    TableReader pr(pt, StrCat(label, ": ports"), d);
    port.pos = pr.pos();
    pr.Port("port", port.port);
    pr.Str("protocol", port.protocol);
    pr.Int("end_port", port.end_port);
    pr.Finish();
    rule.ports.push_back(std::move(port));
  });
  r.Finish();
  return rule;
}

}  // namespace

RawConfig Parse(std::string_view text, Diagnostics& diags) {
  RawConfig cfg;
  if (std::optional<PrescanProblem> p = PrescanToml(text)) {  // before toml++ recurses on it
    diags.Error(p->pos, p->message);
    return cfg;
  }
  toml::table root;
  try {
    root = toml::parse(text, diags.file());
  } catch (const toml::parse_error& e) {
    diags.Error(PosOf(e.source()), StrCat("TOML syntax: ", e.description()));
    return cfg;
  }
  cfg.well_formed = true;
  TableReader top(root, "top level", diags);

  if (const toml::table* ct = top.Table("cluster")) {
    TableReader r(*ct, "[cluster]", diags);
    RawCluster& c = cfg.cluster;
    c.present = true;
    c.pos = r.pos();
    r.Str("name", c.name);
    r.Str("network", c.network);
    r.Str("pod_cidr", c.pod_cidr);
    r.Int("node_cidr_mask", c.node_cidr_mask);
    r.Str("service_cidr", c.service_cidr);
    r.Str("underlay_cidr", c.underlay_cidr);
    r.Int("mtu", c.mtu);
    r.Int("vni", c.vni);
    r.Str("proxy_mode", c.proxy_mode);
    r.Bool("auto_tls", c.auto_tls);
    r.Bool("dns", c.dns);
    r.Int("racks", c.racks);
    r.Bool("world", c.world);
    r.Str("world_cidr", c.world_cidr);
    if (const toml::table* bt = r.Table("bgp")) {
      TableReader br(*bt, "[cluster] bgp", diags);
      c.bgp.present = true;
      c.bgp.pos = br.pos();
      br.Str("mode", c.bgp.mode);
      br.Int("spine_asn", c.bgp.spine_asn);
      br.Finish();
    }
    r.Int("nodes", cfg.node_count);  // `nodes = N` usually sits here, under [cluster]
    r.Finish();
  }

  if (const toml::table* t = top.Table("cni")) cfg.cni = ParseCni(*t, "[cni]", diags, false);

  if (!cfg.node_count.set) top.Int("nodes", cfg.node_count);  // or at the top, before any table
  EachTable(top, "node", [&](const toml::table& t, size_t i) {
    RawNode n;
    TableReader r(t, Label("node", PeekName(t), i), diags);
    n.pos = r.pos();
    r.Str("name", n.name);
    r.Str("pod_cidr", n.pod_cidr);
    r.Str("rack", n.rack);
    if (const toml::table* ct = r.Table("cni")) {
      n.cni = ParseCni(*ct, StrCat(Label("node", PeekName(t), i), ": cni"), diags, true);
    }
    r.StrList("daemon", n.daemon);
    r.Finish();
    cfg.nodes.push_back(std::move(n));
  });

  EachTable(top, "rack", [&](const toml::table& t, size_t i) {
    RawRack rk;
    TableReader r(t, Label("rack", PeekName(t), i), diags);
    rk.pos = r.pos();
    r.Str("name", rk.name);
    r.Str("cidr", rk.cidr);
    r.Int("asn", rk.asn);
    r.Finish();
    cfg.racks.push_back(std::move(rk));
  });

  EachTable(top, "pod", [&](const toml::table& t, size_t i) {
    RawPod p;
    std::string label = Label("pod", PeekName(t), i);
    TableReader r(t, label, diags);
    p.pos = r.pos();
    r.Str("name", p.name);
    r.Str("namespace", p.ns);
    r.Str("node", p.node);
    r.Map("labels", p.labels);
    p.containers = ParseContainers(r, label, diags);
    ParsePodCni(r, label, diags, p.cni);
    r.Finish();
    cfg.pods.push_back(std::move(p));
  });

  EachTable(top, "deployment", [&](const toml::table& t, size_t i) {
    RawDeployment dep;
    std::string label = Label("deployment", PeekName(t), i);
    TableReader r(t, label, diags);
    dep.pos = r.pos();
    r.Str("name", dep.name);
    r.Str("namespace", dep.ns);
    r.Int("replicas", dep.replicas);
    dep.template_pos = dep.pos;
    if (const toml::table* tt = r.Table("template")) {
      TableReader tr(*tt, StrCat(label, ": template"), diags);
      dep.template_pos = tr.pos();
      tr.Map("labels", dep.labels);
      dep.containers = ParseContainers(tr, label, diags);
      tr.Finish();
    }
    r.Finish();
    cfg.deployments.push_back(std::move(dep));
  });

  EachTable(top, "service", [&](const toml::table& t, size_t i) {
    RawService s;
    std::string label = Label("service", PeekName(t), i);
    TableReader r(t, label, diags);
    s.pos = r.pos();
    r.Str("name", s.name);
    r.Str("namespace", s.ns);
    r.Str("type", s.type);
    r.Map("selector", s.selector);
    r.Str("cluster_ip", s.cluster_ip);
    r.Str("session_affinity", s.session_affinity);
    r.Int("affinity_timeout", s.affinity_timeout);
    r.Str("algorithm", s.algorithm);
    EachTable(r, "port", [&](const toml::table& pt, size_t j) {
      RawServicePort p;
      TableReader pr(pt, StrCat(label, ": ", Label("port", PeekName(pt), j)), diags);
      p.pos = pr.pos();
      pr.Str("name", p.name);
      pr.Int("port", p.port);
      pr.Port("target_port", p.target_port);
      pr.Str("protocol", p.protocol);
      pr.Int("node_port", p.node_port);
      pr.Finish();
      s.ports.push_back(std::move(p));
    });
    r.Finish();
    cfg.services.push_back(std::move(s));
  });

  EachTable(top, "ingress", [&](const toml::table& t, size_t i) {
    RawIngress ing;
    std::string label = Label("ingress", PeekName(t), i);
    TableReader r(t, label, diags);
    ing.pos = r.pos();
    r.Str("name", ing.name);
    r.Str("namespace", ing.ns);
    if (const toml::table* db = r.Table("default_backend")) {
      TableReader br(*db, StrCat(label, ": default_backend"), diags);
      ParseBackend(br, ing.default_backend);
      br.Finish();
      ing.has_default_backend = true;
    }
    EachTable(r, "rule", [&](const toml::table& rt, size_t j) {
      RawIngressRule rule;
      std::string rlabel = StrCat(label, ": rule #", j + 1);
      TableReader rr(rt, rlabel, diags);
      rule.pos = rr.pos();
      rr.Str("host", rule.host);
      EachTable(rr, "path", [&](const toml::table& pt, size_t) {
        RawIngressPath p;
        TableReader pr(pt, StrCat(rlabel, ": path"), diags);
        p.pos = pr.pos();
        pr.Str("path", p.path);
        pr.Str("path_type", p.path_type);
        ParseBackend(pr, p.backend);
        pr.Finish();
        rule.paths.push_back(std::move(p));
      });
      rr.Finish();
      ing.rules.push_back(std::move(rule));
    });
    EachTable(r, "tls", [&](const toml::table& tt, size_t) {
      RawIngressTls tls;
      TableReader tr(tt, StrCat(label, ": tls"), diags);
      tls.pos = tr.pos();
      tr.StrList("hosts", tls.hosts);
      tr.Str("cert", tls.cert);
      tr.Str("key", tls.key);
      tr.Finish();
      ing.tls.push_back(std::move(tls));
    });
    r.Finish();
    cfg.ingresses.push_back(std::move(ing));
  });

  EachTable(top, "listener", [&](const toml::table& t, size_t i) {
    RawListener l;
    std::string label = Label("listener", PeekName(t), i);
    TableReader r(t, label, diags);
    l.pos = r.pos();
    r.Str("name", l.name);
    r.Str("address", l.address);
    r.Int("port", l.port);
    r.Str("protocol", l.protocol);
    r.Bool("redirect_to_https", l.redirect_to_https);
    r.Str("upstream", l.upstream);
    r.Str("node", l.node);
    r.Int("upstream_timeout", l.upstream_timeout);
    r.Int("max_connections", l.max_connections);
    EachTable(r, "tls", [&](const toml::table& tt, size_t) {
      RawListenerTls tls;
      TableReader tr(tt, StrCat(label, ": tls"), diags);
      tls.pos = tr.pos();
      tr.StrList("hosts", tls.hosts);
      tr.Str("cert", tls.cert);
      tr.Str("key", tls.key);
      tr.Finish();
      l.tls.push_back(std::move(tls));
    });
    r.Finish();
    cfg.listeners.push_back(std::move(l));
  });

  EachTable(top, "http_route", [&](const toml::table& t, size_t i) {
    RawHttpRoute hr;
    std::string label = Label("http_route", PeekName(t), i);
    TableReader r(t, label, diags);
    hr.pos = r.pos();
    r.Str("name", hr.name);
    r.Str("namespace", hr.ns);
    r.StrList("parents", hr.parents);
    r.StrList("hostnames", hr.hostnames);
    EachTable(r, "rule", [&](const toml::table& rt, size_t j) {
      hr.rules.push_back(ParseRouteRule(rt, StrCat(label, ": rule #", j + 1), diags));
    });
    r.Finish();
    cfg.http_routes.push_back(std::move(hr));
  });

  EachTable(top, "expect", [&](const toml::table& t, size_t i) {
    RawExpect e;
    const std::string label = StrCat("expect #", i + 1);
    TableReader r(t, label, diags);
    e.pos = r.pos();
    ParseExpectEnd(r, "from", label, diags, e.from);
    ParseExpectEnd(r, "to", label, diags, e.to);
    r.Int("port", e.port);
    r.Str("proto", e.proto);
    r.Str("result", e.result);
    r.Str("host", e.host);
    r.Str("path", e.path);
    r.Finish();
    cfg.expects.push_back(std::move(e));
  });

  EachTable(top, "namespace", [&](const toml::table& t, size_t i) {
    RawNamespace ns;
    TableReader r(t, Label("namespace", PeekName(t), i), diags);
    ns.pos = r.pos();
    r.Str("name", ns.name);
    r.Map("labels", ns.labels);
    r.Finish();
    cfg.namespaces.push_back(std::move(ns));
  });

  EachTable(top, "network_policy", [&](const toml::table& t, size_t i) {
    RawNetworkPolicy np;
    std::string label = Label("network_policy", PeekName(t), i);
    TableReader r(t, label, diags);
    np.pos = r.pos();
    r.Str("name", np.name);
    r.Str("namespace", np.ns);
    ParseSelector(r, "pod_selector", label, diags, np.pod_selector);
    r.StrList("policy_types", np.policy_types);
    np.has_ingress = r.Has("ingress");
    EachTable(r, "ingress", [&](const toml::table& rt, size_t j) {
      np.ingress.push_back(ParsePolicyRule(rt, "from", StrCat(label, ": ingress #", j + 1), diags));
    });
    np.has_egress = r.Has("egress");
    EachTable(r, "egress", [&](const toml::table& rt, size_t j) {
      np.egress.push_back(ParsePolicyRule(rt, "to", StrCat(label, ": egress #", j + 1), diags));
    });
    r.Finish();
    cfg.network_policies.push_back(std::move(np));
  });

  top.Finish();
  return cfg;
}

}  // namespace mkn::config
