// RUN: tetra-opt %s -split-input-file -verify-diagnostics

// Every message of the attribute parsers and verifiers.

// expected-error @+1 {{grid axis 'z' must have at least 1 rank, got 0}}
module attributes {tetra.grid = #tetra.grid<x = 1, y = 2, z = 0, data = 1>} {}

// -----

// expected-error @+1 {{unknown grid axis 'w' (expected x, y, z or data)}}
tetra.param @p : tensor<4xf32> init #tetra.init<zeros> layout #tetra.layout<[w]>

// -----

// expected-error @+1 {{layout names grid axis 'x' twice}}
tetra.param @p : tensor<4x4xf32> init #tetra.init<zeros> layout #tetra.layout<[x, x]>

// -----

// expected-error @+1 {{layout names grid axis 'z' twice}}
tetra.param @p : tensor<4x4xf32> init #tetra.init<zeros> layout #tetra.layout<[y*z, x], flat = [z]>

// -----

// expected-error @+1 {{layout both splits and is partial over axis 'x'}}
tetra.param @p : tensor<4x4xf32> init #tetra.init<zeros> layout #tetra.layout<[x, _], partial = [x]>

// -----

// expected-error @+1 {{layout partial names grid axis 'y' twice}}
tetra.param @p : tensor<4x4xf32> init #tetra.init<zeros> layout #tetra.layout<[x, _], partial = [y, y]>

// -----

// expected-error @+1 {{unknown layout key 'split' (expected flat or partial)}}
tetra.param @p : tensor<4x4xf32> init #tetra.init<zeros> layout #tetra.layout<[x, _], split = [y]>

// -----

// expected-error @+1 {{unknown initialiser 'uniform' (expected normal, trunc_normal, zeros or ones)}}
tetra.param @p : tensor<4xf32> init #tetra.init<uniform>

// -----

// expected-error @+1 {{initialiser 'normal' needs a positive finite std, got 0}}
tetra.param @p : tensor<4xf32> init #tetra.init<normal>

// -----

// expected-error @+1 {{initialiser 'trunc_normal' needs a positive finite std, got -0.5}}
tetra.param @p : tensor<4xf32> init #tetra.init<trunc_normal, std = -0.5>

// -----

// expected-error @+1 {{initialiser 'ones' takes no std}}
tetra.param @p : tensor<4xf32> init #tetra.init<ones, std = 0.1>

// -----

// expected-error @+1 {{Loki dim_fraction must be in (0, 1], got 0}}
func.func @f() attributes {l = #tetra.loki<dim_fraction = 0.0, topk_fraction = 0.5>} { return }

// -----

// expected-error @+1 {{Loki topk_fraction must be in (0, 1], got 1.5}}
func.func @f() attributes {l = #tetra.loki<dim_fraction = 0.5, topk_fraction = 1.5>} { return }

// -----

// expected-error @+1 {{goldfish k must be at least 2, got 1}}
func.func @f() attributes {g = #tetra.goldfish<hash, k = 1, h = 13>} { return }

// -----

// expected-error @+1 {{goldfish h must be at least 1, got 0}}
func.func @f() attributes {g = #tetra.goldfish<hash, k = 4, h = 0>} { return }

// -----

// expected-error @+1 {{goldfish start must be in [0, k), got 4}}
func.func @f() attributes {g = #tetra.goldfish<static, k = 4, start = 4>} { return }

// -----

// expected-error @+1 {{goldfish mode 'table' needs table = "FILE"}}
func.func @f() attributes {g = #tetra.goldfish<table, k = 4, h = 13>} { return }

// -----

// expected-error @+1 {{goldfish table file is only used by mode 'table'}}
func.func @f() attributes {g = #tetra.goldfish<hash, table = "t.bin">} { return }

// -----

// expected-error @+1 {{unknown goldfish mode 'random' (expected static, hash or table)}}
func.func @f() attributes {g = #tetra.goldfish<random, k = 4>} { return }

// -----

// expected-error @+1 {{unknown goldfish key 'w' (expected k, h, start or table)}}
func.func @f() attributes {g = #tetra.goldfish<hash, w = 4>} { return }
