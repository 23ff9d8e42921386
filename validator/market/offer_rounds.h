// Offer windows in the store (DESIGN.md, Task): the offers open now, as miners see them, and what
// becomes of a task whose offer window closed: training when enough miners accepted, another window
// while it has rounds left, failed with the reason when none are left.
#pragma once

#include <cstdint>
#include <vector>

#include "common/status.h"
#include "validator/market/offer_board.h"
#include "validator/state/catalog_store.h"
#include "validator/state/claim_store.h"
#include "validator/state/task_store.h"

namespace gradients::validator {

// Every task offering with its window still open, with its model's size and its claimants.
common::Result<std::vector<Offer>> ListOpenOffers(CatalogStore& catalog_store, TaskStore& task_store,
                                                  ClaimStore& claim_store, int64_t now_ms);

// Settles every task whose offer window closed by `now_ms`, logging each transition.
common::Status CloseOfferWindows(TaskStore& task_store, ClaimStore& claim_store, const OfferOptions& options,
                                 int64_t now_ms);

}  // namespace gradients::validator
