// lib/check/report — what `minikube-net check` prints: the matrix as a table, JSON, JUnit XML.
//
// The table is the netpol e2e suite's truth table (rows = from, columns = to) with the observed
// verdict in each cell: "." allowed, "X" denied, "-" no row asks; a cell that disagrees with its
// row carries "!" (".!" connected where the lab says deny, "X!" did not where it says allow), an
// error "E". Columns are numbered and listed under the table, so long names do not widen it; the
// mismatches and errors follow, each with its lab line and the probe's evidence. Pure.
#pragma once

#include <string>

#include "lib/check/matrix.h"

namespace mkn::check {

std::string Table(const Report& r);
// {"cluster", "passed", "mismatches", "errors", "took_ms", "problems": [...], "cells": [{"from",
// "to", "line", "proto", "address", "port", "want", "got", "outcome", "ok", "ms", "evidence"}]}.
std::string Json(const Report& r);
// One <testcase> per cell (classname "expect.line<N>", name "FROM -> TO"), a <failure> on a
// mismatch, an <error> for a probe that could not run; each problem an <error> testcase of its own.
std::string JUnitXml(const Report& r);

}  // namespace mkn::check
