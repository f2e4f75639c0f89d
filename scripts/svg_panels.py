"""Line plots as SVG with the Python standard library only (the benchmark scripts' figures):
side-by-side panels against a log2 x axis, each with a linear or log10 y axis.

    parts = figure(2, "title")
    p = Panel(0, xs=[1, 4, 16], ys=[...], logy=False)
    p.axes(parts, "requests/s", "concurrent clients", lambda n: str(n))
    p.line(parts, [(1, 120.0), (4, 300.0)], "#1f77b4")
    svg_text = finish(parts)
"""
import math

W, H, M = 460, 320, 56  # panel width and height, margin


def figure(panels, title):
    return [f"<svg xmlns='http://www.w3.org/2000/svg' width='{panels * W}' height='{H + 30}' font-family='sans-serif' "
            f"font-size='11'><rect width='100%' height='100%' fill='white'/>",
            f"<text x='{panels * W / 2}' y='16' text-anchor='middle' font-size='13'>{title}</text>"]


def finish(parts):
    return "\n".join(parts + ["</svg>"])


class Panel:
    """Panel number `index`: x on a log2 scale over xs, y over ys (log10 when logy, else from 0)."""

    def __init__(self, index, xs, ys, logy):
        self.ox, self.xs, self.logy = index * W, sorted(set(xs)), logy
        self.lx0, self.lx1 = math.log2(min(xs)), math.log2(max(xs))
        self.f = (lambda v: math.log10(max(v, 1e-12))) if logy else (lambda v: v)
        if logy:
            self.y0, self.y1 = math.floor(self.f(min(ys))), math.ceil(self.f(max(ys)))
        else:
            self.y0, self.y1 = 0.0, max(ys) * 1.1
        if self.y1 <= self.y0:
            self.y1 = self.y0 + 1

    def px(self, n):
        return self.ox + M + (math.log2(n) - self.lx0) / max(self.lx1 - self.lx0, 1e-9) * (W - 1.5 * M)

    def py(self, v):
        return 30 + (H - M) - (self.f(v) - self.y0) / (self.y1 - self.y0) * (H - M - 10)

    def axes(self, parts, ylabel, xlabel, xtick):
        ox, bottom = self.ox, 30 + H - M
        parts.append(f"<line x1='{ox + M}' y1='{bottom}' x2='{ox + W - M / 2}' y2='{bottom}' stroke='black'/>")
        parts.append(f"<line x1='{ox + M}' y1='40' x2='{ox + M}' y2='{bottom}' stroke='black'/>")
        parts.append(f"<text x='{ox + 14}' y='{30 + (H - M) / 2}' transform='rotate(-90 {ox + 14} {30 + (H - M) / 2})' "
                     f"text-anchor='middle'>{ylabel}</text>")
        for n in self.xs:
            parts.append(f"<text x='{self.px(n):.1f}' y='{bottom + 14}' text-anchor='middle'>{xtick(n)}</text>")
        if self.logy:
            ticks = [(10 ** e, f"{10 ** e:g}") for e in range(int(self.y0), int(self.y1) + 1)]
        else:
            ticks = [(t, f"{t:.0f}") for t in (self.y0 + i * (self.y1 - self.y0) / 4 for i in range(5))]
        for t, text in ticks:
            parts.append(f"<text x='{ox + M - 4}' y='{self.py(t) + 4:.1f}' text-anchor='end'>{text}</text>")
            parts.append(f"<line x1='{ox + M}' y1='{self.py(t):.1f}' x2='{ox + W - M / 2}' y2='{self.py(t):.1f}' "
                         f"stroke='#ddd'/>")
        parts.append(f"<text x='{ox + (W + M) / 2}' y='{bottom + 30}' text-anchor='middle'>{xlabel}</text>")

    def line(self, parts, pts, colour):
        pts = sorted(pts)
        parts.append(f"<polyline points='{' '.join(f'{self.px(n):.1f},{self.py(v):.1f}' for n, v in pts)}' "
                     f"fill='none' stroke='{colour}' stroke-width='2'/>")
        parts += [f"<circle cx='{self.px(n):.1f}' cy='{self.py(v):.1f}' r='3' fill='{colour}'/>" for n, v in pts]

    def hline(self, parts, v, colour):
        parts.append(f"<line x1='{self.ox + M}' y1='{self.py(v):.1f}' x2='{self.ox + W - M / 2}' y2='{self.py(v):.1f}' "
                     f"stroke='{colour}' stroke-dasharray='5,4'/>")

    def legend(self, parts, row, text, colour="black", right=False):
        x = self.ox + W - M / 2 if right else self.ox + M + 10
        anchor = " text-anchor='end'" if right else ""
        parts.append(f"<text x='{x}' y='{50 + 14 * row}' fill='{colour}'{anchor}>{text}</text>")
