#include <gtest/gtest.h>

#include "plugin/middleware_instance.hpp"

namespace skiff {
namespace {

skiff_str_t s(const char* text) {
  return skiff_str_from_cstr(text);
}

TEST(MiddlewareEdits, ApplyInOrderAndByNameCaseAside) {
  std::vector<Header> headers{{"X-One", "1"}, {"x-one", "2"}, {"Keep", "k"}};
  auto dropped = apply_edits(headers, {{HeaderEdit::Op::kSet, "x-ONE", "3"},
                                       {HeaderEdit::Op::kAdd, "X-Two", "a"},
                                       {HeaderEdit::Op::kAdd, "X-Two", "b"},
                                       {HeaderEdit::Op::kRemove, "keep", ""}});
  EXPECT_TRUE(dropped.empty());
  ASSERT_EQ(headers.size(), 3u);
  EXPECT_EQ(headers[0].name, "x-ONE");
  EXPECT_EQ(headers[0].value, "3");
  EXPECT_EQ(headers[1].value, "a");
  EXPECT_EQ(headers[2].value, "b");
}

TEST(MiddlewareEdits, AnEditThatWouldForgeAHeaderIsDropped) {
  std::vector<Header> headers{{"A", "1"}};
  auto dropped = apply_edits(headers, {{HeaderEdit::Op::kSet, "X", "v\r\nInjected: yes"},
                                       {HeaderEdit::Op::kAdd, "bad name", "v"},
                                       {HeaderEdit::Op::kAdd, "", "v"},
                                       {HeaderEdit::Op::kAdd, std::string("n\0ul", 4), "v"},
                                       {HeaderEdit::Op::kRemove, "a:b", ""},
                                       {HeaderEdit::Op::kAdd, "Fine", "ok"}});
  EXPECT_EQ(dropped.size(), 5u);
  ASSERT_EQ(headers.size(), 2u);
  EXPECT_EQ(headers[0].name, "A");
  EXPECT_EQ(headers[1].name, "Fine");
}

int releases = 0;
void count_release(void* state) {
  ++releases;
  delete static_cast<int*>(state);
}

TEST(MiddlewareState, EachStateIsReleasedExactlyOnce) {
  releases = 0;
  const auto* edit = middleware_edit_api();
  ASSERT_TRUE(SKIFF_HAS(edit, skiff_mw_edit_api_t, set_state));
  {
    MiddlewareSlot slot;
    skiff_mw_call_t call{SKIFF_MW_OUTBOUND, &slot, {}};
    EXPECT_EQ(edit->side(&call), SKIFF_MW_OUTBOUND);
    EXPECT_EQ(edit->state(&call), nullptr);
    auto* first = new int(1);
    edit->set_state(&call, first, count_release);
    EXPECT_EQ(edit->state(&call), first);
    edit->set_state(&call, new int(2), count_release);  // replaces: the first is released
    EXPECT_EQ(releases, 1);
    EXPECT_EQ(*static_cast<int*>(edit->state(&call)), 2);
    MiddlewareSlot moved(std::move(slot));  // the state moves with the slot, not released
    EXPECT_EQ(releases, 1);
  }
  EXPECT_EQ(releases, 2);
  // A state without a release function is simply forgotten.
  MiddlewareSlot slot;
  int local = 0;
  skiff_mw_call_t call{SKIFF_MW_INBOUND, &slot, {}};
  edit->set_state(&call, &local, nullptr);
  EXPECT_EQ(edit->side(&call), SKIFF_MW_INBOUND);
  EXPECT_EQ(edit->state(&call), &local);
}

TEST(MiddlewareEdits, TheEditTableRecordsWithoutTouchingTheHead) {
  MiddlewareSlot slot;
  skiff_mw_call_t call{SKIFF_MW_OUTBOUND, &slot, {}};
  const auto* edit = middleware_edit_api();
  edit->set_header(&call, s("X-A"), s("1"));
  edit->add_header(&call, s("X-B"), s("2"));
  edit->remove_header(&call, s("X-C"));
  ASSERT_EQ(call.edits.size(), 3u);
  EXPECT_EQ(call.edits[0].op, HeaderEdit::Op::kSet);
  EXPECT_EQ(call.edits[1].op, HeaderEdit::Op::kAdd);
  EXPECT_EQ(call.edits[2].op, HeaderEdit::Op::kRemove);
  EXPECT_EQ(call.edits[2].name, "X-C");
}

}  // namespace
}  // namespace skiff
