"""Figures made for the report: text large enough once shrunk to the report's width, legends off the
data, titles that fit their axes. `LessonContext.figure` applies `readable` before saving."""
from __future__ import annotations

REPORT_WIDTH_PX = 900  # the report shows figures at most this wide


def readable(fig) -> None:
    """Enlarge a figure's text so that, shrunk to the report's width, tick labels still read at ~10 pt,
    and move legends off the data (outside the axes)."""
    import warnings

    shrink = max(1.0, fig.get_figwidth() * fig.dpi / REPORT_WIDTH_PX)
    sizes = {"ticks": 11 * shrink, "labels": 12 * shrink, "title": 13 * shrink, "legend": 10 * shrink}
    for ax in fig.axes:
        ax.tick_params(labelsize=sizes["ticks"])
        ax.xaxis.label.set_fontsize(sizes["labels"])
        ax.yaxis.label.set_fontsize(sizes["labels"])
        ax.title.set_fontsize(sizes["title"])
        if ax.get_legend() is not None:
            for text in ax.get_legend().get_texts():
                text.set_fontsize(sizes["legend"])
    if getattr(fig, "_suptitle", None) is not None:
        fig._suptitle.set_fontsize(sizes["title"] * 1.1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tight_layout warns about axes it cannot fit; saving still crops
        try:
            fig.tight_layout()
        except (ValueError, RuntimeError):
            pass
    _fit_titles(fig)
    # After the layout, so the axes keep their size; saving with bbox_inches="tight" takes the legends in.
    one_column = len({round(ax.get_position().x0, 2) for ax in fig.axes}) <= 1
    for ax in fig.axes:
        _legend_off_the_data(fig, ax, sizes["legend"], one_column)


def _fit_titles(fig) -> None:
    """Shrink a title wider than its axes, so side-by-side titles never run into each other."""
    renderer = fig.canvas.get_renderer()
    for ax in fig.axes:
        title = ax.title
        if title.get_text():
            width, room = title.get_window_extent(renderer).width, ax.get_window_extent(renderer).width * 1.1
            if width > room > 0:
                title.set_fontsize(title.get_fontsize() * room / width)


def _legend_off_the_data(fig, ax, fontsize: float, one_column: bool) -> None:
    """Move a legend drawn inside the axes outside them: right of a lone plot, under side-by-side ones."""
    legend = ax.get_legend()
    if legend is None or getattr(legend, "_bbox_to_anchor", None) is not None:  # none, or placed by hand
        return
    handles = getattr(legend, "legend_handles", None) or getattr(legend, "legendHandles", [])
    labels = [text.get_text() for text in legend.get_texts()]
    title = legend.get_title().get_text() or None
    legend.remove()
    if one_column:
        ax.legend(handles, labels, title=title, fontsize=fontsize, loc="upper left", bbox_to_anchor=(1.02, 1),
                  borderaxespad=0)
        return
    # Just under the tick labels and the x label, whatever their size.
    bottom = ax.get_tightbbox(fig.canvas.get_renderer()).y0
    y = ax.transAxes.inverted().transform((0, bottom))[1]
    columns = 2 if len(labels) > 3 and max(len(label) for label in labels) <= 24 else 1
    ax.legend(handles, labels, title=title, fontsize=fontsize, loc="upper center", bbox_to_anchor=(0.5, y - 0.02),
              ncol=columns, borderaxespad=0)
