// byte_text.h: byte counts as the window shows them ("12 B", "1.5 KiB", "3.0 MiB").
#pragma once

#include <QString>
#include <cstdint>

namespace nnscope::ui {

inline QString kib(uint64_t bytes) {
    if (bytes < 1024) return QString::number(bytes) + " B";
    if (bytes < 1024 * 1024) return QString::number(double(bytes) / 1024.0, 'f', 1) + " KiB";
    return QString::number(double(bytes) / (1024.0 * 1024.0), 'f', 1) + " MiB";
}

} // namespace nnscope::ui
