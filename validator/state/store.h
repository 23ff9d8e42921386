// The validator's durable state (DESIGN.md, State): one interface per record family, and the Store
// that holds them all. SQLite is the embedded implementation (validator/state/sqlite_store.h); a
// PostgreSQL backend for multi-node deployments implements the same interfaces. A component takes
// the families it uses (a claim handler a ClaimStore, not every table). The rules of the domain a
// write must respect are plain functions every backend calls (who may claim a task, when its pool
// is full: validator/market/claim_rules.h), so that two backends cannot drift apart.
// Records hold content hashes, never file contents: the bytes live in the blob store
// (validator/state/blob_store.h).
//
// Every method is one transaction: it either happens entirely (and is durable when it returns OK)
// or not at all. Implementations are safe to call from several threads.
#pragma once

#include <cstdint>
#include <set>
#include <string>

#include "common/status.h"
#include "validator/state/catalog_store.h"
#include "validator/state/claim_store.h"
#include "validator/state/evaluation_store.h"
#include "validator/state/submission_store.h"
#include "validator/state/task_store.h"
#include "validator/state/weight_set_store.h"

namespace gradients::validator {

class Store : public CatalogStore,
              public TaskStore,
              public ClaimStore,
              public SubmissionStore,
              public EvaluationStore,
              public WeightSetStore {
 public:
  // Every blob a record still needs: the models' files, the datasets, and the splits and
  // checkpoints of tasks not finished or finished (scored or failed) at or after
  // `finished_since_ms`. Read at one point in time. A replaced checkpoint's files are in it only
  // when another record names the same bytes.
  virtual common::Result<std::set<std::string>> ListBlobsInUse(int64_t finished_since_ms) = 0;
};

}  // namespace gradients::validator
