// lib/control/usage — what the CLI answers when it is given a word or a number it cannot use: an
// unknown command, a value not among the choices, a name the cluster does not have, a number out of
// range. Each message names what was typed and, when one is near, what was probably meant, so a
// typo costs one look instead of a trip to --help. A number is checked as a whole before it is
// converted, so "-1" and "99999999999" get the same plain message as "abc" (CLI11's own checks
// print a 300-digit double range or "Could not convert").
//
// Pure: the decision (which suggestion, which message) is made and table-tested here; cmd/ and
// vnet/cluster only pass the words in.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace mkn::control {

// The candidate `word` was most likely meant as: the nearest within 2 edits (and fewer edits than
// `word` has characters, so "ls" is not taken for "up"), the first of equals; "" when none is near.
std::string Nearest(std::string_view word, const std::vector<std::string>& candidates);

// `unknown command "ls": did you mean "status"? (minikube-net --help lists every command)`.
// Besides near spellings of `commands`, the words other tools use for them are understood:
// ls/list/ps -> status, start/create/run -> up, stop/delete/rm -> down, version -> --version, ...
std::string UnknownCommand(std::string_view word, const std::vector<std::string>& commands);

// `"pdos" is not one of pods, nodes, svc (did you mean "pods"?)`: for a value that must be one of
// `choices` (CLI11 prefixes the option's name).
std::string NotOneOf(std::string_view word, const std::vector<std::string>& choices);

// NotFound `no <kind> "<name>" in cluster <cluster>`, then ` (did you mean "<nearest>"?)` when one
// of `names` is near, else ` (it has a, b, c)` when there are at most 8 of them. The CLI exits 2 on
// it: the user named something that is not there.
absl::Status NoSuch(std::string_view kind, std::string_view name, std::string_view cluster,
                    const std::vector<std::string>& names);

// A command line the parser (CLI11) refused, said as every other usage error is (the caller puts
// "minikube-net: " before it and exits 2), `<command>: <what>`:
//   up: unknown flag --detatch: did you mean --detach? (minikube-net up --help lists its flags)
//   up: unexpected argument "extra" (minikube-net up --help)
//   up: lab is required (minikube-net up --help)
//   status: --output needs a value (TEXT:{table,json})
//   status: --output: "yaml" is not one of table, json
// `command` is the subcommand being parsed ("" before one: then "a command is required"), `kind`
// the parser's name for the error (ExtrasError, RequiredError, ArgumentMismatch, ValidationError,
// ...) and `message` its text; `flags` are the command's flags ("--detach", "-d"), from which the
// nearest long one is suggested for an unknown one (a one-letter flag is too short to guess from).
std::string ParseErrorText(std::string_view command, std::string_view kind,
                           std::string_view message, const std::vector<std::string>& flags);

// `words` for a message: all of them ("a, b, c") when there are at most `most`, else the first
// `most` and how many more ("a, b, c and 9 more"): an error stays one line, and never ends in a
// "..." that hides nothing.
std::string ListSome(const std::vector<std::string>& words, size_t most = 8);

// `several clusters are up (2: hostgw, quickstart); say which with -c CLUSTER or
// MKN_CLUSTER=CLUSTER`: for a command that acts on one cluster, given the names of those up.
std::string SeveralClustersUp(const std::vector<std::string>& names);

// `text` as an integer in [lo, hi]. InvalidArgument `want an integer lo..hi, got <text>` for
// anything else: a sign out of range, a fraction, a word, a number past int64.
absl::StatusOr<int64_t> ParseIntIn(std::string_view text, int64_t lo, int64_t hi);

}  // namespace mkn::control
