"""What a person does in the studio, as playwright steps shared by the story, multi-user and group browser tests:
fill the Train form (any tab), start a run, read its id and progress, pick options in selectboxes and
multiselects, find the live chart's panels, and save screenshots of what is on screen."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from tests.conftest import ARTIFACTS
from tests.streamlit_server import wait_idle

EXCEPTION = "[data-testid='stException']"
SCROLLER = "[data-testid='stMain']"
# every cartesian panel of every Plotly chart on the page or in a component frame (the live chart is one), in
# the page's viewport coordinates: {top, bottom, left, right}
PANELS_JS = """() => {
    const out = [];
    const docs = [[document, 0, 0]];
    for (const f of document.querySelectorAll('iframe')) {
        const r = f.getBoundingClientRect();
        if (f.contentDocument) docs.push([f.contentDocument, r.top, r.left]);
    }
    for (const [doc, dy, dx] of docs) for (const gd of doc.querySelectorAll('.js-plotly-plot')) {
        const L = gd._fullLayout;
        if (!L || !L._subplots) continue;
        const box = gd.getBoundingClientRect();
        for (const id of L._subplots.cartesian || []) {
            const [, xs, ys] = id.match(/^x(\\d*)y(\\d*)$/) || [];
            const xa = L['xaxis' + (xs || '')], ya = L['yaxis' + (ys || '')];
            if (!xa || !ya) continue;
            out.push({top: dy + box.top + ya._offset, bottom: dy + box.top + ya._offset + ya._length,
                      left: dx + box.left + xa._offset, right: dx + box.left + xa._offset + xa._length,
                      frame: doc !== document});
        }
    }
    return out;
}"""


@contextmanager
def screenshot_on_failure(page, name: str) -> Iterator[None]:
    """Save what the window showed when a step failed (``tests/artifacts/<name>``), then fail as before."""
    try:
        yield
    except BaseException:
        with suppress(Exception):
            full_shot(page, name)
        raise


def wait_for(predicate: Callable[[], object], timeout_s: float = 90.0, every_s: float = 0.25, what: str = "") -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, f"timed out after {timeout_s:.0f}s waiting for {what or predicate}"
        time.sleep(every_s)


def assert_no_exception(page) -> None:
    """No page shows Streamlit's exception box (with ``showErrorDetails = none`` its text is redacted, the box is
    still there)."""
    assert page.locator(EXCEPTION).count() == 0, page.locator(EXCEPTION).first.inner_text()


def main(page):
    return page.get_by_test_id("stMain")


def main_text(page) -> str:
    return main(page).inner_text()


def shot(page, name: str, at=None) -> Path:
    """A screenshot of what the window shows, with ``at`` (a locator) scrolled into view first."""
    if at is not None:
        at.scroll_into_view_if_needed()
        time.sleep(0.3)  # let charts finish drawing after the scroll
    path = ARTIFACTS / name
    page.screenshot(path=path)
    return path


def scroll_top(page) -> None:
    page.evaluate(f"() => {{ const m = document.querySelector(\"{SCROLLER}\"); if (m) m.scrollTop = 0; "
                  "window.scrollTo(0, 0); }")
    time.sleep(0.3)


def full_shot(page, name: str) -> Path:
    """The whole page as one picture: Streamlit scrolls inside its main area, so the window is made that tall for
    the picture and given back its size afterwards."""
    size = page.viewport_size
    height = page.evaluate(f"() => Math.max(document.querySelector(\"{SCROLLER}\")?.scrollHeight || 0, "
                           "document.documentElement.scrollHeight)")
    page.set_viewport_size({"width": size["width"], "height": min(int(height) + 50, 16_000)})
    time.sleep(1.0)
    path = ARTIFACTS / name
    page.screenshot(path=path)
    page.set_viewport_size(size)
    time.sleep(0.5)
    return path


def open_tab(page, name: str) -> None:
    main(page).get_by_role("tab", name=name, exact=True).click()


def open_section(page, name: str | re.Pattern) -> bool:
    """Open the page's tab of that name where the page has one (a page may show its sections as tabs or one below
    the other); returns whether there was such a tab."""
    tab = main(page).get_by_role("tab", name=name)
    if not tab.count():
        return False
    tab.first.click()
    wait_idle(page)
    return True


def fill_form(page, tabs: dict[str, dict[str, float]]) -> None:
    """Fill the Train form: ``{tab: {label: value}}`` (each tab opened first: hidden fields take no input)."""
    for tab, settings in tabs.items():
        open_tab(page, tab)
        for label, value in settings.items():
            field = page.get_by_role("spinbutton", name=label, exact=True)
            field.fill(str(value))
            field.press("Tab")  # commit the value, as leaving the field does
    open_tab(page, "Run")


def start_run(page, run: dict[str, float], **other_tabs: dict[str, float]) -> float:
    """Fill the Train form (the Run tab, and any other tab by its name: ``Learning={...}``), press Start training
    and wait for the run's id in the URL; returns the monotonic time of the click."""
    before = run_id(page)
    fill_form(page, {**other_tabs, "Run": run})
    clicked = time.monotonic()
    page.get_by_role("button", name="Start training").click()
    wait_for(lambda: run_id(page) not in (None, before), what="the new run's id in the URL")
    wait_idle(page)
    return clicked


def run_id(page) -> str | None:
    """The run in the address bar (read from the page: playwright's ``page.url`` can miss a ``pushState``)."""
    match = re.search(r"[?&]run=([0-9A-Za-z_-]+)", page.evaluate("() => location.href"))
    return match.group(1) if match else None


def run_name(page) -> str:
    """The name of the run the Train page shows (the first text line of its status)."""
    return main(page).get_by_test_id("stText").first.inner_text().strip()


def steps_shown(page, area: str = "stMain") -> int:
    """Steps done, read off the first progress bar of the area ('1,234 / 50,000 steps …'); 0 before there is one."""
    bar = page.locator(f"[data-testid='{area}'] [data-testid='stProgress']").first
    if bar.count() == 0:
        return 0
    text = bar.inner_text()
    return int(text.split("/")[0].replace(",", "").strip()) if "/" in text else 0


def progress_text(page, area: str = "stMain") -> str:
    bar = page.locator(f"[data-testid='{area}'] [data-testid='stProgress']").first
    return bar.inner_text() if bar.count() else ""


def selectbox(page, label: str):
    return main(page).get_by_test_id("stSelectbox").filter(has=page.get_by_role("combobox", name=label, exact=True))


def selected(page, label: str) -> str:
    """The option the selectbox labelled ``label`` shows."""
    return selectbox(page, label).get_by_role("combobox").input_value()


def choose(page, label: str, option: str | re.Pattern) -> None:
    """Pick an option of the selectbox labelled ``label`` (an exact text or a pattern), as a person does: open
    its list and click the option."""
    selectbox(page, label).get_by_role("button", name="Open").click()
    page.get_by_role("option", name=option, exact=isinstance(option, str)).first.click()
    wait_idle(page)
    if isinstance(option, str):
        assert selected(page, label) == option
    else:
        assert option.search(selected(page, label)), f"{label}: {selected(page, label)!r}"


def choose_only(page, label: str, options: list[str | re.Pattern]) -> None:
    """Make exactly ``options`` the chosen values of the multiselect labelled ``label``: clear it, then open its
    list and click each option."""
    box = main(page).get_by_test_id("stMultiSelect").filter(has=page.get_by_role("combobox", name=label, exact=True))
    box.wait_for()
    clear = box.get_by_role("button", name="Clear all")
    if clear.count():
        clear.click()
        wait_idle(page)
    for option in options:
        box.get_by_role("button", name="Open").click()
        page.get_by_role("option", name=option, exact=isinstance(option, str)).first.click()
        wait_idle(page)
        page.keyboard.press("Escape")
    chosen = box.get_by_role("group", name="Selected values").inner_text()
    for option in options:
        assert (option in chosen) if isinstance(option, str) else option.search(chosen), (option, chosen)


def chart_traces(page) -> set[str]:
    """The names of every trace of every Plotly chart on the page (and in its component frames)."""
    return set(page.evaluate("""() => {
        const docs = [document, ...[...document.querySelectorAll('iframe')].map(f => f.contentDocument)
                                   .filter(Boolean)];
        return docs.flatMap(d => [...d.querySelectorAll('.js-plotly-plot')])
                   .flatMap(gd => (gd._fullData || []).map(t => t.name || ''));
    }"""))


def panels(page) -> list[dict[str, float]]:
    """Every chart panel (a cartesian subplot) on screen, in window coordinates, in document order."""
    return page.evaluate(PANELS_JS)


def table_rows(page, area: str = "stMain") -> list[list[str]]:
    """The rows of the first ``st.dataframe`` in the area, from the grid's accessible table (header row first)."""
    return page.evaluate(f"""() => {{
        const grid = document.querySelector("[data-testid='{area}'] [data-testid='stDataFrame']");
        if (!grid) return [];
        return [...grid.querySelectorAll('tr')].map(r => [...r.querySelectorAll('th, td')].map(c => c.innerText));
    }}""")
