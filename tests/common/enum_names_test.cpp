#include "common/enum_names.h"

#include <gtest/gtest.h>

#include "common/config.h"

namespace gradients::common {
namespace {

enum class Fruit { kApple, kPear, kQuince };

constexpr auto EnumNames(Fruit) {
  return std::to_array<EnumNameEntry<Fruit>>(
      {{Fruit::kApple, "apple"}, {Fruit::kPear, "pear"}, {Fruit::kQuince, "quince"}});
}

static_assert(EnumName(Fruit::kPear) == "pear");
static_assert(EnumFromName<Fruit>("quince") == Fruit::kQuince);

TEST(EnumNames, EveryValueRoundTripsThroughItsName) {
  for (Fruit fruit : {Fruit::kApple, Fruit::kPear, Fruit::kQuince}) {
    EXPECT_EQ(EnumFromName<Fruit>(EnumName(fruit)), fruit);
    EXPECT_EQ(*ParseEnum<Fruit>(EnumName(fruit)), fruit);
  }
  EXPECT_FALSE(EnumFromName<Fruit>("Apple").has_value());  // names are exact
}

TEST(EnumNames, AnUnknownNameIsAnErrorListingTheAcceptedOnes) {
  const Result<Fruit> parsed = ParseEnum<Fruit>("plum");
  EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(parsed.status().message(), "expected one of \"apple\", \"pear\", \"quince\", got \"plum\"");
  EXPECT_LT(ParseEnum<Fruit>(std::string(10'000, 'x')).status().message().size(), 200u);
}

struct Basket {
  Fruit fruit = Fruit::kApple;
  std::vector<Fruit> more;
};

void ReadConfig(ConfigReader& reader, Basket& basket) {
  reader.Optional("fruit", basket.fruit).Optional("more", basket.more);
}

TEST(EnumNames, AConfigReadsAnEnumFromItsNameWithErrorsNamingTheField) {
  const Result<Basket> basket = ParseConfig<Basket>({{"fruit", "quince"}, {"more", {"pear", "apple"}}}, "basket");
  ASSERT_TRUE(basket.ok()) << basket.status().ToString();
  EXPECT_EQ(basket->fruit, Fruit::kQuince);
  EXPECT_EQ(basket->more, (std::vector<Fruit>{Fruit::kPear, Fruit::kApple}));
  EXPECT_EQ(ParseConfig<Basket>({{"fruit", 3}}, "basket").status().message(),
            "basket.fruit: expected one of \"apple\", \"pear\", \"quince\", got 3");
  EXPECT_EQ(ParseConfig<Basket>({{"more", {"pear", "plum"}}}, "basket").status().message(),
            "basket.more[1]: expected one of \"apple\", \"pear\", \"quince\", got \"plum\"");
}

}  // namespace
}  // namespace gradients::common
