// tensor_kind_style.cpp: colours chosen to stay apart for common colour-vision deficiencies
// (blue / green / orange / grey), icons drawn at run time so no image files are needed.
#include "tensor_kind_style.h"

#include <QPainter>
#include <QPixmap>

namespace nnscope::ui {

SlotStyle slot_style(TensorKind kind, bool persistent) {
    switch (kind) {
    case TensorKind::Parameter:
        return SlotStyle::Parameter;
    case TensorKind::Buffer:
        return persistent ? SlotStyle::Buffer : SlotStyle::NonPersistentBuffer;
    case TensorKind::Attribute:
        return SlotStyle::Attribute;
    }
    return SlotStyle::Attribute;
}

QColor style_color(SlotStyle s) {
    switch (s) {
    case SlotStyle::Module:
        return QColor(60, 60, 60);
    case SlotStyle::Parameter:
        return QColor(31, 119, 180);
    case SlotStyle::Buffer:
        return QColor(44, 160, 44);
    case SlotStyle::NonPersistentBuffer:
        return QColor(230, 140, 20);
    case SlotStyle::Attribute:
        return QColor(140, 140, 140);
    }
    return {};
}

QIcon style_icon(SlotStyle s) {
    QPixmap pm(14, 14);
    pm.fill(Qt::transparent);
    QPainter p(&pm);
    p.setRenderHint(QPainter::Antialiasing);
    QColor c = style_color(s);
    p.setPen(QPen(c.darker(130), 1.2));
    switch (s) {
    case SlotStyle::Module: // a folder-like square
        p.setBrush(QColor(235, 235, 235));
        p.drawRect(QRectF(1.5, 2.5, 11, 9));
        break;
    case SlotStyle::Parameter: // filled circle: trained
        p.setBrush(c);
        p.drawEllipse(QRectF(2, 2, 10, 10));
        break;
    case SlotStyle::Buffer: // filled square: saved state
        p.setBrush(c);
        p.drawRect(QRectF(2.5, 2.5, 9, 9));
        break;
    case SlotStyle::NonPersistentBuffer: // hollow square: state, not saved
        p.setBrush(Qt::NoBrush);
        p.setPen(QPen(c, 2));
        p.drawRect(QRectF(3, 3, 8, 8));
        break;
    case SlotStyle::Attribute: // dashed circle: not registered
        p.setBrush(Qt::NoBrush);
        p.setPen(QPen(c, 1.6, Qt::DashLine));
        p.drawEllipse(QRectF(2.5, 2.5, 9, 9));
        break;
    }
    return QIcon(pm);
}

QString style_label(SlotStyle s) {
    switch (s) {
    case SlotStyle::Module:
        return QStringLiteral("module");
    case SlotStyle::Parameter:
        return QStringLiteral("parameter");
    case SlotStyle::Buffer:
        return QStringLiteral("buffer");
    case SlotStyle::NonPersistentBuffer:
        return QStringLiteral("buffer (not in state_dict)");
    case SlotStyle::Attribute:
        return QStringLiteral("attribute (not registered)");
    }
    return {};
}

} // namespace nnscope::ui
