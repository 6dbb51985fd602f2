"""Small modal dialogs: pick a view, edit tags, enter a URL or a path, confirm."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from veille.render.hygiene import clean_line


class PickScreen(ModalScreen[str | None]):
    """A titled list of choices; dismisses with the chosen option id."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel", show=False)]

    def __init__(self, title: str, choices: list[tuple[str, str]], current: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.choices = choices
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Text(self.title_text, style="bold"))
            yield OptionList(
                *[Option(Text(clean_line(label)), id=key) for key, label in self.choices],
                id="pick-list",
            )

    def on_mount(self) -> None:
        ol = self.query_one(OptionList)
        for i, (key, _) in enumerate(self.choices):
            if key == self.current:
                ol.highlighted = i
                break
        else:
            ol.highlighted = 0 if self.choices else None
        ol.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id)


class AskScreen(ModalScreen[str | None]):
    """One line of input (tags, a feed URL, an OPML path)."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel", show=False)]

    def __init__(self, title: str, value: str = "", placeholder: str = "", hint: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.value = value
        self.placeholder = placeholder
        self.hint = hint

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Text(self.title_text, style="bold"))
            yield Input(value=self.value, placeholder=self.placeholder, id="ask-input")
            if self.hint:
                yield Static(Text(self.hint, style="dim"))

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value)


class ConfirmScreen(ModalScreen[bool]):
    """A yes/no question: y or enter says yes, n or esc says no."""

    BINDINGS = [
        Binding("y,enter", "dismiss(True)", "Yes", show=False),
        Binding("n,escape", "dismiss(False)", "No", show=False),
    ]

    def __init__(self, question: str, hint: str = "y or enter: yes · n or esc: no") -> None:
        super().__init__()
        self.question = question
        self.hint = hint

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="confirm"):
            yield Static(Text(self.question, style="bold"), id="confirm-question")
            yield Static(Text(self.hint, style="dim"))
