"""The many-flow chart: packets per machine CPU-second per workload and server, as a plain SVG."""
from xml.sax.saxutils import escape

SERIES = (("vc", "vc-turn (kernel path)", "#1b6ca8"),
          ("vcu", "vc-turn (user space)", "#63a4d8"),
          ("coturn", "coturn 4.6", "#b0413e"))
WIDTH, HEIGHT = 760, 360
LEFT, RIGHT, TOP, BOTTOM = 90, 20, 50, 70


def _nice_top(v):
    """The smallest 1, 2 or 5 times a power of ten at or above v."""
    p = 1.0
    while p * 10 <= v:
        p *= 10
    for m in (1, 2, 5, 10):
        if m * p >= v:
            return m * p
    return 10 * p


def svg(flows):
    """flows: [{"workload", "label", "servers": {kind: {"per_machine_cpu_s": float|None}}}]."""
    values = [(f["servers"].get(k) or {}).get("per_machine_cpu_s") for f in flows for k, _, _ in SERIES]
    top = _nice_top(max([v for v in values if v] or [1]))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    group_w = plot_w / max(1, len(flows))
    bar_w = group_w * 0.8 / len(SERIES)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
           f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">',
           f'<rect width="{WIDTH}" height="{HEIGHT}" fill="#fff"/>',
           f'<text x="{LEFT}" y="20" font-size="14">Delivered packets per machine CPU-second '
           '(higher is better)</text>']
    for i in range(6):
        v = top * i / 5
        y = TOP + plot_h - plot_h * i / 5
        out.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
                   'stroke="#ddd"/>')
        out.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{v:,.0f}</text>')
    for g, f in enumerate(flows):
        x0 = LEFT + g * group_w + group_w * 0.1
        for s, (kind, _, colour) in enumerate(SERIES):
            v = (f["servers"].get(kind) or {}).get("per_machine_cpu_s")
            if not v:
                continue
            h = plot_h * v / top
            out.append(f'<rect x="{x0 + s * bar_w:.1f}" y="{TOP + plot_h - h:.1f}" '
                       f'width="{bar_w - 2:.1f}" height="{h:.1f}" fill="{colour}">'
                       f'<title>{escape(f["label"])}: {v:,.0f}</title></rect>')
        out.append(f'<text x="{x0 + group_w * 0.4:.1f}" y="{TOP + plot_h + 18}" '
                   f'text-anchor="middle">{escape(f["workload"])}</text>')
    for s, (_, name, colour) in enumerate(SERIES):
        x = LEFT + s * 200
        out.append(f'<rect x="{x}" y="{HEIGHT - 30}" width="12" height="12" fill="{colour}"/>')
        out.append(f'<text x="{x + 18}" y="{HEIGHT - 20}">{escape(name)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"
