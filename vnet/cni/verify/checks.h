// vnet/cni/verify/checks — every check of the conformance suite, by family; verify.cc's table gives
// each its id, title and source, and the order they run in. Internal to vnet/cni/verify.
//
// A check is a function of the lab's context filling one report: it fails with evidence (what was
// expected, what was seen, the plugin calls involved), skips with the reason it does not apply, or
// passes by leaving the report alone. Its time is measured around it; a check whose verdict rests
// on plugin calls made before it (spec.add: the lab's ADDs, run at `up`) puts their time in
// r.duration, and the runner adds its own run time to it, so the TIME column says what the
// verdict cost. A check cleans up after itself (test pods are DELeted and
// their namespaces removed); one that fails half-way leaves its test pods to `down`, which finds
// them by the cluster's marker.
#pragma once

#include "lib/cni/report.h"
#include "vnet/cni/verify/context.h"

namespace mkn::vnet::verify_internal {

using CheckFn = void (*)(Ctx&, cni::CheckReport&);

// spec_checks.cc: the CNI spec (SPEC.md): VERSION, ADD and its result, CHECK, DEL, the lifecycle,
// STATUS and GC (1.1), error objects.
void CheckVersion(Ctx& c, cni::CheckReport& r);
void CheckAdd(Ctx& c, cni::CheckReport& r);
void CheckAddResult(Ctx& c, cni::CheckReport& r);
void CheckAddInterface(Ctx& c, cni::CheckReport& r);
void CheckCheckPass(Ctx& c, cni::CheckReport& r);
void CheckCheckTamper(Ctx& c, cni::CheckReport& r);
void CheckDelClean(Ctx& c, cni::CheckReport& r);
void CheckDelTwice(Ctx& c, cni::CheckReport& r);
void CheckDelNetnsGone(Ctx& c, cni::CheckReport& r);
void CheckDelNoAdd(Ctx& c, cni::CheckReport& r);
void CheckReadd(Ctx& c, cni::CheckReport& r);
void CheckConcurrent(Ctx& c, cni::CheckReport& r);
void CheckStatus(Ctx& c, cni::CheckReport& r);
void CheckGc(Ctx& c, cni::CheckReport& r);
// Judges every plugin error the checks before it provoked (Ctx::errors_seen): runs after them.
void CheckErrors(Ctx& c, cni::CheckReport& r);

// model_checks.cc: the Kubernetes network model, probed with real traffic between the lab's pods
// and nodes: reachability, source IP, own IP, path MTU, Services, hostPort, bandwidth.
void CheckPodPodNode(Ctx& c, cni::CheckReport& r);
void CheckPodPodCross(Ctx& c, cni::CheckReport& r);
void CheckSourceIp(Ctx& c, cni::CheckReport& r);
void CheckNodePod(Ctx& c, cni::CheckReport& r);
void CheckOwnIp(Ctx& c, cni::CheckReport& r);
void CheckMtu(Ctx& c, cni::CheckReport& r);
void CheckService(Ctx& c, cni::CheckReport& r);
void CheckHostPort(Ctx& c, cni::CheckReport& r);
void CheckBandwidth(Ctx& c, cni::CheckReport& r);

// churn_checks.cc: N pods x R rounds of ADD then DEL on one node leave nothing behind.
void CheckChurn(Ctx& c, cni::CheckReport& r);

}  // namespace mkn::vnet::verify_internal
