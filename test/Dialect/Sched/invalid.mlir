// RUN: tetra-opt %s -split-input-file -verify-diagnostics

// expected-error @+1 {{'sched.plan' op plan version 7 is not supported (this build reads version 1)}}
sched.plan @p attributes {version = 7} {
}

// -----

sched.plan @p attributes {version = 1} {
  // expected-error @+1 {{'sched.repeat' op count must be at least 1, got 0}}
  sched.repeat 0 {
  }
}

// -----

sched.plan @p attributes {version = 1} {
  // expected-error @+1 {{'sched.launch' op bind must map roles to buffer set names (strings); 'grad' maps to 3 : i64}}
  sched.launch @update {bind = {grad = 3}}
}
