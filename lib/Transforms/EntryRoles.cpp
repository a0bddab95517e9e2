//===- EntryRoles.cpp - what each argument of an entry point is -----------===//
#include "tetra/Transforms/EntryRoles.h"

using namespace mlir;

void tetra::setArgRole(func::FuncOp func, unsigned index, StringRef role,
                       StringRef name) {
  Builder b(func.getContext());
  func.setArgAttr(index, kRoleAttr, b.getStringAttr(role));
  if (!name.empty())
    func.setArgAttr(index, kNameAttr, b.getStringAttr(name));
}

void tetra::setResultRole(func::FuncOp func, unsigned index, StringRef role,
                          StringRef name) {
  Builder b(func.getContext());
  func.setResultAttr(index, kRoleAttr, b.getStringAttr(role));
  if (!name.empty())
    func.setResultAttr(index, kNameAttr, b.getStringAttr(name));
}
