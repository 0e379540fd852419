// The desk's small enhancements; every page works without them except dropping an image and
// the send's live progress (which then shows on reload). Nothing is loaded from elsewhere.
(function () {
  "use strict";
  var csrf = document.querySelector('meta[name="csrf-token"]').getAttribute("content");

  function fit(frame) {
    try { frame.style.height = (frame.contentDocument.documentElement.scrollHeight + 20) + "px"; } catch (e) { /* not loaded */ }
  }

  function previews() {
    var frames = document.querySelectorAll("iframe.email");
    var toggle = document.getElementById("dark-toggle");
    frames.forEach(function (frame) { frame.addEventListener("load", function () { fit(frame); }); });
    if (!toggle) { return; }
    toggle.addEventListener("change", function () {
      var scheme = toggle.checked ? "dark" : "light";
      frames.forEach(function (frame) {
        frame.classList.toggle("dark", toggle.checked);
        frame.src = frame.src.replace(/scheme=\w+/, "scheme=" + scheme);
      });
    });
  }

  // A finding's line: file line N is line N - (first body line) + 1 of the text box; a line in
  // the front matter goes to the form above it.
  function goToLine(fileLine) {
    var form = document.querySelector("form[data-body-first-line]");
    var body = form && form.querySelector("textarea.source");
    if (!form || !body) { return; }
    var line = fileLine - parseInt(form.dataset.bodyFirstLine, 10) + 1;
    if (line < 1) { document.getElementById("f-title").focus(); return; }
    var lines = body.value.split("\n");
    var start = 0;
    for (var i = 0; i < line - 1 && i < lines.length; i++) { start += lines[i].length + 1; }
    var end = start + (lines[line - 1] || "").length;
    body.focus();
    body.setSelectionRange(start, end);
    var lineHeight = parseFloat(getComputedStyle(body).lineHeight) || 20;
    body.scrollTop = Math.max(0, (line - 3) * lineHeight);
  }

  function lineLinks() {
    document.querySelectorAll("a.line[data-line]").forEach(function (link) {
      link.addEventListener("click", function (event) {
        event.preventDefault();
        goToLine(parseInt(link.dataset.line, 10));
      });
    });
    var wanted = new URLSearchParams(window.location.search).get("line");
    if (wanted) { goToLine(parseInt(wanted, 10)); }
  }

  function insertAtCaret(area, text) {
    var at = area.selectionStart || area.value.length;
    var before = area.value.slice(0, at);
    var gap = before && !before.endsWith("\n\n") ? (before.endsWith("\n") ? "\n" : "\n\n") : "";
    area.value = before + gap + text + "\n" + area.value.slice(at);
  }

  function images() {
    var form = document.getElementById("image-form");
    var body = document.getElementById("body");
    if (!form || !body) { return; }
    var status = document.getElementById("image-status");
    var fileInput = document.getElementById("image-file");
    var alt = document.getElementById("image-alt");
    function upload(file) {
      if (!alt.value.trim()) {
        status.textContent = "Describe the image first (alt text), then add it again.";
        alt.focus();
        return;
      }
      var data = new FormData();
      data.append("image", file);
      data.append("alt", alt.value);
      status.textContent = "Adding " + file.name + "…";
      fetch(form.action, { method: "POST", body: data, headers: { "X-CSRF-Token": csrf }, credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (answer) {
          if (answer.error) { status.textContent = answer.error; return; }
          insertAtCaret(body, answer.markdown);
          body.dispatchEvent(new Event("input", { bubbles: true }));  // the live preview follows
          status.textContent = "Added " + answer.path + " (" + answer.width + " px wide). Save to keep it in the text.";
          alt.value = "";
          fileInput.value = "";
        })
        .catch(function () { status.textContent = "The image could not be added; try again."; });
    }
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (fileInput.files.length) { upload(fileInput.files[0]); }
    });
    body.addEventListener("dragover", function (event) { event.preventDefault(); body.classList.add("drop-target"); });
    body.addEventListener("dragleave", function () { body.classList.remove("drop-target"); });
    body.addEventListener("drop", function (event) {
      body.classList.remove("drop-target");
      var files = event.dataTransfer && event.dataTransfer.files;
      if (!files || !files.length) { return; }
      event.preventDefault();
      upload(files[0]);
    });
  }

  // Live preview: a moment after she stops typing, the unsaved text is built and checked as the
  // saved file would be (POST …/draft); the frames and the findings show the draft.
  function liveDraft() {
    var form = document.getElementById("piece-form");
    if (!form) { return; }
    var timer = null;
    var file = form.action.split("/").pop();
    var heading = document.getElementById("check-heading");
    function finding(item) {
      var li = document.createElement("li");
      li.className = "sev-" + item.severity;
      var strong = document.createElement("strong");
      strong.textContent = item.severity + " [" + item.code + "]";
      li.appendChild(strong);
      li.appendChild(document.createTextNode(" "));
      if (item.where && item.file) {
        var a = document.createElement("a");
        a.textContent = item.where;
        if (item.file === file) {
          a.className = "line";
          a.href = "?line=" + (item.line || 1);
          a.addEventListener("click", function (event) { event.preventDefault(); goToLine(item.line || 1); });
        } else {
          var page = item.file === "issue.toml" ? "../settings" : item.file;
          a.href = page + (item.line ? "?line=" + item.line : "");
        }
        li.appendChild(a);
      } else if (item.where) {
        li.appendChild(document.createTextNode(item.where));
      }
      li.appendChild(document.createTextNode(" — " + item.message));
      if (item.fix) {
        var fix = document.createElement("span");
        fix.className = "fix";
        fix.textContent = "Fix: " + item.fix;
        li.appendChild(fix);
      }
      return li;
    }
    function show(answer) {
      var old = document.getElementById("findings");
      var list = document.createElement("ul");
      list.className = "findings";
      list.id = "findings";
      (answer.findings || []).forEach(function (item) { list.appendChild(finding(item)); });
      old.replaceWith(list);
      heading.textContent = "Check (not saved yet): " + (answer.summary || answer.problem);
      document.querySelectorAll("iframe.email").forEach(function (frame) {
        var scheme = frame.classList.contains("dark") ? "dark" : "light";
        frame.src = frame.src.split("?")[0] + "?unsaved=1&scheme=" + scheme;
      });
    }
    function send() {
      fetch(form.action + "/draft", { method: "POST", body: new FormData(form), headers: { "X-CSRF-Token": csrf }, credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(show)
        .catch(function () { /* the next edit tries again */ });
    }
    form.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(send, 1200);
    });
  }

  function progress() {
    var box = document.getElementById("progress");
    if (!box) { return; }
    function poll() {
      fetch(box.dataset.url, { cache: "no-store", credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (job) {
          var bar = document.getElementById("bar");
          if (job.total !== null && job.total !== undefined) { bar.max = Math.max(job.total, 1); }
          bar.value = job.done || 0;
          document.getElementById("count").textContent = (job.done || 0) + " of " + (job.total === null ? "?" : job.total);
          var lines = document.getElementById("lines");
          lines.textContent = "";
          (job.lines || []).forEach(function (line) {
            var li = document.createElement("li");
            li.textContent = line;
            lines.appendChild(li);
          });
          document.getElementById("send-error").textContent = job.error || "";
          document.getElementById("uncertain").textContent = job.uncertain_text || "";
          if (job.finished) { document.getElementById("finished").hidden = false; } else { setTimeout(poll, 500); }
        })
        .catch(function () { setTimeout(poll, 2000); });
    }
    poll();
  }

  document.addEventListener("DOMContentLoaded", function () {
    previews();
    lineLinks();
    images();
    liveDraft();
    progress();
  });
})();
