// The console's only script: the crowd editor's live checks (size estimate, rule
// problems, "test these attributes"). Plain JavaScript, no build step. Every call
// sends the session's anti-forgery token (the page's <meta name="csrf-token">).
(function () {
  "use strict";
  var form = document.getElementById("crowd-form");
  if (!form) return;

  var token = document.querySelector('meta[name="csrf-token"]').getAttribute("content");
  var messages = JSON.parse(document.getElementById("js-messages").textContent);
  var condition = form.elements.condition;
  var live = document.getElementById("live-problems");
  var size = document.getElementById("live-size");
  var overlaps = document.getElementById("live-overlaps");
  // What the server said about the rule when the form came back refused: replaced by
  // the live check as soon as it answers.
  var stale = form.querySelector('.problems[data-field="condition"]:not(.live)');
  var refused = document.getElementById("save-refused");

  function t(key, values) {
    var text = messages["js." + key] || key;
    return text.replace(/\{(\w+)\}/g, function (_, name) {
      return values && name in values ? String(values[name]) : "";
    });
  }

  function pct(x) { return (x * 100).toFixed(1) + "%"; }

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": token },
      body: JSON.stringify(body)
    }).then(function (r) {
      return r.json().then(function (data) { return { status: r.status, data: data }; },
                           function () { return { status: r.status, data: null }; });
    });
  }

  function item(path, message) {
    var li = document.createElement("li");
    if (path) {
      var code = document.createElement("code");
      code.textContent = path;
      li.appendChild(code);
      li.appendChild(document.createTextNode(" "));
    }
    li.appendChild(document.createTextNode(message));
    return li;
  }

  function showProblems(list) {
    if (stale) stale.hidden = true;
    live.textContent = "";
    list.forEach(function (p) { live.appendChild(item(p.path, p.message)); });
    live.hidden = list.length === 0;
  }

  function refusal(res) {
    var err = res.data && res.data.error;
    if (!err) return [{ path: "", message: t("error", { status: res.status }) }];
    return err.details && err.details.length ? err.details : [err];
  }

  function readRule() {
    try {
      return { rule: JSON.parse(condition.value) };
    } catch (e) {
      return { error: e.message };
    }
  }

  var timer = null;
  var sent = 0;

  function check() {
    var parsed = readRule();
    if (parsed.error !== undefined) {
      showProblems([{ path: "$.condition", message: t("invalid_json", { error: parsed.error }) }]);
      size.textContent = t("waiting");
      overlaps.textContent = "";
      return;
    }
    var mine = ++sent;
    size.textContent = t("checking");
    post(form.getAttribute("data-preview-url"), { condition: parsed.rule }).then(function (res) {
      if (mine !== sent) return; // a newer check is on its way
      if (res.status !== 200) {
        showProblems(refusal(res));
        size.textContent = t("waiting");
        overlaps.textContent = "";
        return;
      }
      var d = res.data;
      showProblems([]);
      size.textContent = t("size", { matches: d.matches.toLocaleString(), n: d.evaluated.toLocaleString(), share: pct(d.share) });
      overlaps.textContent = "";
      d.overlaps.filter(function (o) { return o.both > 0; })
        .sort(function (a, b) { return b.both - a.both; })
        .slice(0, 5)
        .forEach(function (o) {
          overlaps.appendChild(item("", t("overlap", { name: o.name, both: o.both.toLocaleString(), share: pct(o.share_of_preview) })));
        });
    }, function () {
      if (mine === sent) showProblems([{ path: "", message: t("error", { status: "network" }) }]);
    });
  }

  form.addEventListener("input", function () {
    if (refused) refused.hidden = true; // it was about the form as it was sent
  });
  condition.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(check, 350);
  });
  check();

  var attributes = document.getElementById("test-attributes");
  var result = document.getElementById("test-result");
  document.getElementById("run-test").addEventListener("click", function () {
    var parsed = readRule();
    result.textContent = "";
    if (parsed.error !== undefined) {
      result.appendChild(item("$.condition", t("invalid_json", { error: parsed.error })));
      return;
    }
    var attrs;
    try {
      attrs = JSON.parse(attributes.value || "{}");
      if (attrs === null || typeof attrs !== "object" || Array.isArray(attrs)) throw new Error("{…}");
    } catch (e) {
      result.appendChild(item("", t("attributes_invalid", { error: e.message })));
      return;
    }
    post(form.getAttribute("data-test-url"), { condition: parsed.rule, attributes: attrs }).then(function (res) {
      result.textContent = "";
      if (res.status !== 200) {
        var ul = document.createElement("ul");
        ul.className = "problems";
        refusal(res).forEach(function (p) { ul.appendChild(item(p.path, p.message)); });
        result.appendChild(ul);
        return;
      }
      var d = res.data;
      var verdict = document.createElement("p");
      verdict.className = d.matches ? "verdict holds" : "verdict fails";
      verdict.id = "test-verdict";
      verdict.textContent = d.matches ? t("holds") : t("fails");
      result.appendChild(verdict);
      var list = document.createElement("ul");
      list.className = "plain reasons";
      d.reasons.forEach(function (r) {
        var text = r.operator + " " + JSON.stringify(r.expected) + " · " + JSON.stringify(r.actual) + " — " + (r.passed ? t("passed") : t("failed"));
        var li = item(r.path, text);
        li.className = r.passed ? "passed" : "failed";
        list.appendChild(li);
      });
      result.appendChild(list);
      if (d.missing_attributes.length) {
        result.appendChild(item("", t("missing", { names: d.missing_attributes.join(", ") })));
      }
    });
  });
})();
