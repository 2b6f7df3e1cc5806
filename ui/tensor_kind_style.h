// tensor_kind_style.h: how each kind of tensor looks everywhere in the window: one colour
// and one icon per kind (parameter, persistent buffer, non-persistent buffer, attribute),
// so the legend, the tree and the inspector agree.
#pragma once

#include <QColor>
#include <QIcon>
#include <QString>

#include "module.h"

namespace nnscope::ui {

enum class SlotStyle { Module, Parameter, Buffer, NonPersistentBuffer, Attribute };

SlotStyle slot_style(TensorKind kind, bool persistent);
QColor style_color(SlotStyle s);
QIcon style_icon(SlotStyle s);
QString style_label(SlotStyle s); // "parameter", "buffer (not in state_dict)", ...

} // namespace nnscope::ui
