"""Every key of the app in one table, so help, the palette and `[keys]` agree.

Each binding has an id (the name used in config.toml ``[keys]``); Textual's
keymap swaps the keys of a binding with that id, so rebinding needs no code.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding


@dataclass(frozen=True)
class KeyDef:
    id: str  # config.toml [keys] name, and the action name
    keys: str  # default keys, comma separated
    description: str
    show: bool = False  # in the footer
    short: str = ""  # the footer's label (a word: every shown key fits one line); help says all
    action: str = ""  # defaults to id
    priority: bool = False

    def binding(self) -> Binding:
        return Binding(
            self.keys,
            self.action or self.id,
            self.short or self.description,
            show=self.show,
            id=self.id,
            priority=self.priority,
        )


# Keys of the main screen (the stream, item and composer panes).
MAIN_KEYS: list[KeyDef] = [
    KeyDef("cursor_down", "j,down", "Next item"),
    KeyDef("cursor_up", "k,up", "Previous item"),
    KeyDef("cursor_top", "g,home", "First item"),
    KeyDef("cursor_bottom", "G,end", "Last item"),
    KeyDef("next_unread", "n", "Next unread", show=True, short="next"),
    KeyDef("prev_unread", "N", "Previous unread"),
    KeyDef("page_down", "space,pagedown", "Page the item down"),
    KeyDef("page_up", "b,pageup", "Page the item up"),
    KeyDef("focus_item", "enter", "Read the item"),
    KeyDef("cycle_pane", "tab", "Next pane"),
    KeyDef("cycle_pane_back", "shift+tab", "Previous pane"),
    KeyDef("toggle_read", "m", "Toggle read", show=True, short="read"),
    KeyDef("star", "s", "Star (keep)", show=True, short="star"),
    KeyDef(
        "dismiss",
        "x",
        "Dismiss (read, and out of Unread)",
        show=True,
        short="dismiss",
        action="dismiss_item",
    ),
    KeyDef("mark_all_read", "A", "Mark all in view read"),
    KeyDef("undo", "u", "Undo", show=True, short="undo"),
    KeyDef("open_link", "o", "Open link (N o: link N)", show=True, short="open"),
    KeyDef("copy_link", "y", "Copy link"),
    KeyDef("refresh_all", "r", "Refresh all feeds", show=True, short="refresh"),
    KeyDef("refresh_feed", "R", "Refresh this feed"),
    KeyDef("search", "slash", "Search in this view", show=True, short="search"),
    KeyDef("search_all", "ctrl+f", "Search all items (not only this view)"),
    KeyDef("filter", "f", "Filter view", show=True, short="filter"),
    KeyDef("edit_tags", "t", "Edit tags"),
    KeyDef("compose", "c", "Comment / reshare", show=True, short="comment"),
    KeyDef("back", "escape", "Back"),
    KeyDef("wider", "right_square_bracket", "Stream pane wider"),
    KeyDef("narrower", "left_square_bracket", "Stream pane narrower"),
    KeyDef("composer_taller", "right_curly_bracket", "Composer taller"),
    KeyDef("composer_shorter", "left_curly_bracket", "Composer shorter"),
    KeyDef("add_feed", "a", "Add a feed (or import OPML)"),
    # sharing (the composer pane and the outbox)
    KeyDef("send_share", "ctrl+s", "Send the share (composer)", show=True, short="send"),
    KeyDef("quote", ">", "Quote the paragraph (or selection) in the comment"),
    KeyDef("share_to", "ctrl+o", "Choose the share's destinations"),
    KeyDef("share_tags", "ctrl+g", "Choose the share's hashtags"),
    KeyDef("shares", "S", "Shares: what you shared, and its status", show=True, short="shares"),
    # feeds, rules and reading (issue 12)
    KeyDef("feeds", "F", "Feeds and tags: unread counts, status, settings"),
    KeyDef("rules", "M", "Mute rules and alerts"),
    KeyDef("article", "w", "Full article from the page (again: the feed's text)"),
    # the social loop
    KeyDef("network", "p", "People: what several people you follow shared (again: 24 h/7 d)"),
    KeyDef("toggle_warning", "v", "Show (or hide) a post behind its content warning"),
    KeyDef("answer_mode", "ctrl+r", "Composer: credit, reply to or quote the sharer's post"),
    KeyDef("next_sharer", "ctrl+n", "Composer: the next sharer's post"),
]
DIGIT_KEYS = [
    KeyDef(f"digit_{d}", str(d), f"Link number digit {d}", action=f"digit({d})") for d in range(10)
]

# App-wide keys.
APP_KEYS: list[KeyDef] = [
    KeyDef("quit", "q", "Quit", show=True, short="quit"),
    KeyDef("help", "question_mark", "Help: every key", show=True, short="keys"),
    KeyDef("cycle_theme", "ctrl+t", "Next theme"),
    KeyDef("command_palette", "ctrl+p", "Commands"),
]

# Keys of the Shares view (S).
SHARES_KEYS: list[KeyDef] = [
    KeyDef("share_open", "enter", "Open the shared item", show=True, short="open"),
    KeyDef("share_edit", "e", "Edit a failed share", show=True, short="edit"),
    KeyDef("share_retry", "r", "Retry a failed share", show=True, short="retry"),
    KeyDef("share_close", "escape", "Close the Shares view", show=True, short="close"),
]

# Keys of the feeds pane (F).
FEEDS_KEYS: list[KeyDef] = [
    KeyDef("feeds_down", "j,down", "Next row"),
    KeyDef("feeds_up", "k,up", "Previous row"),
    KeyDef("feeds_top", "g,home", "First row"),
    KeyDef("feeds_bottom", "G,end", "Last row"),
    KeyDef("feeds_page_down", "pagedown,space", "Page down"),
    KeyDef("feeds_page_up", "pageup,b", "Page up"),
    KeyDef(
        "feeds_open", "enter", "Show this feed's (or tag's) items", show=True, short="show items"
    ),
    KeyDef("feeds_filter", "slash", "Filter feeds by name, URL, tag", show=True, short="filter"),
    KeyDef("feeds_add", "a", "Add a feed (discovery; or an OPML file)", show=True, short="add"),
    KeyDef(
        "feeds_remove",
        "d,delete",
        "Unsubscribe (starred and shared items kept)",
        show=True,
        short="unsubscribe",
    ),
    KeyDef("feeds_undo", "u", "Subscribe again to the feed removed last", show=True, short="undo"),
    KeyDef(
        "feeds_rename", "e", "Rename (your own title; empty: the feed's)", show=True, short="rename"
    ),
    KeyDef("feeds_tags", "t", "Edit the feed's tags", show=True, short="tags"),
    KeyDef(
        "feeds_refresh", "r", "Refresh this feed (a tag: its feeds) now", show=True, short="refresh"
    ),
    KeyDef("feeds_site", "o", "Open the feed's site"),
    KeyDef("feeds_copy", "y", "Copy the feed URL"),
    KeyDef("feeds_interval", "i", "Refresh interval (minutes, or default)"),
    KeyDef("feeds_full_text", "w", "Always fetch the full article (toggle)"),
    KeyDef("feeds_mute", "m", "Mute / unmute the feed"),
    KeyDef("feeds_rules", "M", "Mute rules and alerts"),
    KeyDef("feeds_close", "escape,F", "Back to the stream", show=True, short="back"),
]

# Keys of the rules view (M).
RULES_KEYS: list[KeyDef] = [
    KeyDef("rules_add_mute", "m", "Add a mute rule", show=True, short="mute"),
    KeyDef("rules_add_alert", "a", "Add an alert", show=True, short="alert"),
    KeyDef("rules_remove", "d,delete", "Remove the rule", show=True, short="remove"),
    KeyDef("rules_undo", "u", "Undo the last rule change", show=True, short="undo"),
    KeyDef("rules_close", "escape,M", "Close", show=True, short="close"),
]

ALL_KEYS = {k.id: k for k in [*MAIN_KEYS, *APP_KEYS, *SHARES_KEYS, *FEEDS_KEYS, *RULES_KEYS]}


def keymap_from_config(keys: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """Config ``[keys]`` to a Textual keymap; unknown names are returned to warn about."""
    keymap: dict[str, str] = {}
    unknown: list[str] = []
    for name, value in keys.items():
        if name in ALL_KEYS or name.startswith("digit_"):
            keymap[name] = ",".join(k.strip() for k in value.split(",") if k.strip())
        else:
            unknown.append(name)
    return keymap, unknown


def effective_keys(keymap: dict[str, str], kd: KeyDef) -> str:
    return keymap.get(kd.id, kd.keys)


# Keys that act together: a key bound twice in one of these, one binding loses it.
SCOPES: list[list[KeyDef]] = [
    [*MAIN_KEYS, *DIGIT_KEYS, *APP_KEYS],
    [*SHARES_KEYS, *APP_KEYS],
    [*FEEDS_KEYS, *APP_KEYS],
    [*RULES_KEYS, *APP_KEYS],
]


@dataclass(frozen=True)
class Clash:
    """A rebound action took ``key`` from another action that still had it."""

    key: str
    taker: str  # the action rebound in [keys]
    loser: KeyDef

    def line(self, keymap: dict[str, str]) -> str:
        left = [k for k in effective_keys(keymap, self.loser).split(",") if k != self.key]
        after = (
            f"{self.loser.id} keeps {', '.join(left)}"
            if left
            else f"{self.loser.id} has no key now"
        )
        return (
            f"config [keys]: {self.taker} takes {self.key} from {self.loser.id} "
            f"({self.loser.description}); {after}"
        )


def clashes(keymap: dict[str, str]) -> list[Clash]:
    """Keys the config gives an action while another action (not rebound) has them.

    The README's own example ``toggle_read = "m,r"`` takes ``r`` from
    ``refresh_all``: Textual applies it silently, so the app says it."""
    out: list[Clash] = []
    seen: set[tuple[str, str, str]] = set()
    for scope in SCOPES:
        ids = {kd.id for kd in scope}
        for taker, value in keymap.items():
            if taker not in ids:
                continue
            for key in value.split(","):
                for other in scope:
                    if other.id == taker or other.id in keymap:
                        continue
                    if key in other.keys.split(",") and (key, taker, other.id) not in seen:
                        seen.add((key, taker, other.id))
                        out.append(Clash(key, taker, other))
    return out
