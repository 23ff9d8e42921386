#include "validator/market/offer_board.h"

#include <algorithm>

namespace gradients::validator {

OfferBoard::OfferBoard(OfferOptions options, uint64_t seed) : options_(options), random_(seed) {}

size_t OfferBoard::connected() const {
  std::lock_guard lock(mutex_);
  return subscribers_.size();
}

bool OfferBoard::IsConnected(const std::string& miner) const {
  std::lock_guard lock(mutex_);
  return by_miner_.contains(miner);
}

const OfferBoard::Subscriber* OfferBoard::Find(const std::string& miner) const {
  auto id = by_miner_.find(miner);
  return id == by_miner_.end() ? nullptr : &subscribers_.at(id->second);
}

bool OfferBoard::Fits(const Subscriber& subscriber, const Offer& offer) const {
  if (offer.claimants.contains(subscriber.miner)) return false;
  if (offer.model_parameters > subscriber.capacity.max_model_parameters) return false;
  if (!subscriber.capacity.task_types.contains(offer.type)) return false;
  auto claims = claims_.find(subscriber.miner);
  const int64_t active = claims == claims_.end() ? 0 : claims->second.active_claims;
  return active < subscriber.capacity.max_concurrent_tasks;
}

std::vector<std::string> OfferBoard::Order(const Offer& offer, int64_t now_ms) {
  std::vector<std::string> fresh, recent;
  for (const auto& [id, subscriber] : subscribers_) {
    if (!Fits(subscriber, offer)) continue;
    auto claims = claims_.find(subscriber.miner);
    const bool competed = claims != claims_.end() && claims->second.last_claim_at_ms > now_ms - options_.recent_ms;
    (competed ? recent : fresh).push_back(subscriber.miner);
  }
  std::shuffle(fresh.begin(), fresh.end(), random_);
  std::shuffle(recent.begin(), recent.end(), random_);
  fresh.insert(fresh.end(), recent.begin(), recent.end());
  return fresh;
}

size_t OfferBoard::SendWave(OpenOffer& open, size_t count) {
  size_t sent = 0;
  for (; sent < count && open.next < open.order.size(); ++open.next) {
    const std::string& miner = open.order[open.next];
    open.in_line.erase(miner);
    const Subscriber* subscriber = Find(miner);
    // Gone, or busy with other tasks since the order was drawn: skipped (it joins the line again
    // when it fits).
    if (subscriber == nullptr || open.offered.contains(miner) || !Fits(*subscriber, open.offer)) continue;
    subscriber->sink->Send(open.offer);
    open.offered.insert(miner);
    ++sent;
    ++offers_sent_;
  }
  return sent;
}

common::Result<uint64_t> OfferBoard::Subscribe(const std::string& miner, OfferCapacity capacity, OfferSink* sink) {
  std::lock_guard lock(mutex_);
  if (ended_) return common::Status::Unavailable(end_reason_.message());
  const uint64_t id = next_id_++;
  if (auto previous = by_miner_.find(miner); previous != by_miner_.end()) {
    subscribers_.at(previous->second).sink->End(common::Status::Aborted("a newer subscription of this miner replaced this one"));
    subscribers_.erase(previous->second);
  }
  subscribers_.emplace(id, Subscriber{.miner = miner, .capacity = std::move(capacity), .sink = sink});
  by_miner_[miner] = id;
  const Subscriber& subscriber = subscribers_.at(id);
  for (auto& [task_id, open] : offers_) {
    if (!Fits(subscriber, open.offer)) continue;
    if (open.offered.contains(miner) || open.next >= open.order.size()) {
      sink->Send(open.offer);  // its turn came already, or everyone in line has had it
      open.offered.insert(miner);
      ++offers_sent_;
    } else if (open.in_line.insert(miner).second) {
      open.order.push_back(miner);
    }
  }
  return id;
}

void OfferBoard::Unsubscribe(uint64_t id) {
  std::lock_guard lock(mutex_);
  auto subscriber = subscribers_.find(id);
  if (subscriber == subscribers_.end()) return;
  by_miner_.erase(subscriber->second.miner);
  subscribers_.erase(subscriber);
}

void OfferBoard::Update(const std::vector<Offer>& open, const std::vector<MinerClaims>& claims, int64_t now_ms) {
  std::lock_guard lock(mutex_);
  claims_.clear();
  for (const MinerClaims& miner : claims) claims_[miner.miner] = miner;
  std::set<std::string> current;
  for (const Offer& offer : open) {
    current.insert(offer.task_id);
    const int64_t open_places = offer.pool_size - static_cast<int64_t>(offer.claimants.size());
    if (open_places <= 0) continue;
    const size_t wave = static_cast<size_t>(2 * open_places);
    auto found = offers_.find(offer.task_id);
    if (found == offers_.end() || found->second.offer.respond_by_ms != offer.respond_by_ms) {
      // A new task or a new window: a fresh line, everyone may be offered again.
      OpenOffer fresh{.offer = offer, .order = Order(offer, now_ms), .next = 0, .in_line = {}, .offered = {},
                      .declined = {}, .next_wave_at_ms = now_ms};
      fresh.in_line.insert(fresh.order.begin(), fresh.order.end());
      found = offers_.insert_or_assign(offer.task_id, std::move(fresh)).first;
    }
    OpenOffer& state = found->second;
    state.offer = offer;
    for (const auto& [id, subscriber] : subscribers_) {
      if (!state.offered.contains(subscriber.miner) && !state.in_line.contains(subscriber.miner) &&
          Fits(subscriber, offer)) {
        state.order.push_back(subscriber.miner);
        state.in_line.insert(subscriber.miner);
      }
    }
    if (now_ms >= state.next_wave_at_ms) {
      SendWave(state, wave);
      state.next_wave_at_ms = now_ms + options_.wave_interval_ms;
    }
  }
  std::erase_if(offers_, [&](const auto& entry) { return !current.contains(entry.first); });
}

void OfferBoard::Declined(const std::string& task_id, const std::string& miner) {
  std::lock_guard lock(mutex_);
  auto found = offers_.find(task_id);
  if (found == offers_.end() || !found->second.offered.contains(miner)) return;
  if (found->second.declined.insert(miner).second) SendWave(found->second, 1);
}

void OfferBoard::EndAll(const common::Status& why) {
  std::lock_guard lock(mutex_);
  ended_ = true;
  end_reason_ = why;
  for (auto& [id, subscriber] : subscribers_) subscriber.sink->End(why);
  subscribers_.clear();
  by_miner_.clear();
}

}  // namespace gradients::validator
