// ordered_dict.h: an insertion-ordered string map with Python dict semantics.
//
// Reassigning a key keeps its position; erasing keeps the order of the others. Modules
// hold a handful of entries each, so a vector with linear lookup beats a hash map.
#pragma once

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

namespace nnscope {

template <class T> class OrderedDict {
  public:
    using Item = std::pair<std::string, T>;

    T* find(const std::string& key) {
        for (auto& item : m_items)
            if (item.first == key) return &item.second;
        return nullptr;
    }
    const T* find(const std::string& key) const {
        return const_cast<OrderedDict*>(this)->find(key);
    }
    bool contains(const std::string& key) const { return find(key) != nullptr; }

    // Inserts at the end, or replaces in place when the key exists.
    T& set(const std::string& key, T value) {
        if (T* existing = find(key)) return *existing = std::move(value);
        m_items.emplace_back(key, std::move(value));
        return m_items.back().second;
    }
    bool erase(const std::string& key) {
        auto it = std::find_if(m_items.begin(), m_items.end(),
                               [&](const Item& i) { return i.first == key; });
        if (it == m_items.end()) return false;
        m_items.erase(it);
        return true;
    }

    size_t size() const { return m_items.size(); }
    bool empty() const { return m_items.empty(); }
    auto begin() const { return m_items.begin(); }
    auto end() const { return m_items.end(); }
    auto begin() { return m_items.begin(); }
    auto end() { return m_items.end(); }
    const std::vector<Item>& items() const { return m_items; }

  private:
    std::vector<Item> m_items;
};

} // namespace nnscope
