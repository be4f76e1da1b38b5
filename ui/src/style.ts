// The few rules Argo CD's own classes (white-box, argo-button, Font Awesome) do not cover. Colours
// are Argo CD's status palette or translucent greys, so they read on the light and the dark theme;
// text colour is always inherited. Injected once per page.

const CSS = `
.drift-ext{font-size:13px;line-height:1.45;color:inherit;padding:0 0 16px}
.drift-ext *{box-sizing:border-box}
.drift-ext .white-box{margin-bottom:12px}
.drift-ext__box{border:1px solid rgba(128,128,128,.25);border-radius:4px;padding:12px 14px;margin-bottom:12px;background:rgba(128,128,128,.04)}
.drift-ext h4{margin:0 0 8px;font-size:14px;font-weight:600;display:flex;align-items:center;gap:6px;flex-wrap:wrap}
.drift-ext__muted{opacity:.7}
.drift-ext__row{display:flex;flex-wrap:wrap;gap:6px 18px;align-items:baseline}
.drift-ext__kv{display:inline-flex;gap:6px;align-items:baseline;min-width:0}
.drift-ext__kv>b{font-weight:600;text-transform:uppercase;font-size:11px;letter-spacing:.03em;opacity:.7}
.drift-ext__toolbar{display:flex;flex-wrap:wrap;gap:8px;align-items:center;justify-content:space-between;margin-bottom:10px}
.drift-ext__toolbar .drift-ext__right{display:flex;gap:8px;align-items:center;flex-wrap:wrap;margin-left:auto}
.drift-ext__btn{cursor:pointer;border:1px solid rgba(128,128,128,.45);background:transparent;color:inherit;border-radius:3px;padding:3px 10px;font-size:12px}
.drift-ext__btn:hover{background:rgba(128,128,128,.12)}
.drift-ext__banner{display:flex;gap:10px;align-items:flex-start;border-radius:4px;padding:8px 12px;margin-bottom:12px;border:1px solid rgba(233,109,118,.6);background:rgba(233,109,118,.12)}
.drift-ext__banner--warn{border-color:rgba(244,192,48,.7);background:rgba(244,192,48,.14)}
.drift-ext__banner--info{border-color:rgba(13,173,234,.6);background:rgba(13,173,234,.1)}
.drift-ext__banner>i{margin-top:3px}
.drift-ext__grow{flex:1;min-width:0}
.drift-ext__badge{display:inline-block;border-radius:10px;padding:0 8px;font-size:11px;line-height:18px;white-space:nowrap;border:1px solid rgba(128,128,128,.4)}
.drift-ext__chip{display:inline-block;border-radius:3px;padding:0 6px;margin:1px 4px 1px 0;font-family:monospace;font-size:12px;background:rgba(128,128,128,.15);white-space:nowrap}
.drift-ext__res{border-top:1px solid rgba(128,128,128,.2)}
.drift-ext__res:first-child{border-top:0}
.drift-ext__res-head{display:flex;flex-wrap:wrap;gap:4px 14px;align-items:center;padding:8px 4px;cursor:pointer;background:none;border:0;color:inherit;width:100%;text-align:left;font:inherit}
.drift-ext__res-head:hover{background:rgba(128,128,128,.08)}
.drift-ext__res-title{font-weight:600;min-width:12em;flex:1 1 16em}
.drift-ext__res-name{font-weight:400}
.drift-ext__res-body{padding:4px 4px 12px 22px}
.drift-ext__scroll{overflow-x:auto;max-width:100%}
.drift-ext table.drift-ext__table{border-collapse:collapse;width:100%;font-size:12px}
.drift-ext__table th{text-align:left;font-weight:600;font-size:11px;text-transform:uppercase;opacity:.7;padding:4px 8px;border-bottom:1px solid rgba(128,128,128,.3);white-space:nowrap}
.drift-ext__table td{padding:5px 8px;border-bottom:1px solid rgba(128,128,128,.15);vertical-align:top}
.drift-ext__nb{white-space:nowrap}
.drift-ext__raw{overflow-wrap:anywhere}
.drift-ext__code{font-family:monospace;font-size:12px}
.drift-ext__diff{font-family:monospace;font-size:12px;white-space:pre;overflow:auto;max-height:420px;border:1px solid rgba(128,128,128,.25);border-radius:3px;padding:6px 0;margin:6px 0}
.drift-ext__diff>div{padding:0 8px;min-width:max-content}
.drift-ext__diff .add{background:rgba(24,190,148,.18)}
.drift-ext__diff .del{background:rgba(233,109,118,.2)}
.drift-ext__diff .hunk{color:#0dadea}
.drift-ext__config{font-family:monospace;font-size:12px;white-space:pre;overflow:auto;background:rgba(128,128,128,.12);border-radius:3px;padding:8px 10px;margin:4px 0 8px}
.drift-ext__checks{margin:8px 0 0;padding-left:18px}
.drift-ext__checks li{margin-bottom:6px}
.drift-ext__timeline svg{display:block;width:100%;height:auto}
.drift-ext__legend{display:flex;flex-wrap:wrap;gap:4px 14px;font-size:12px;margin-top:4px}
.drift-ext__legend i{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:4px}
.drift-ext__panel{cursor:pointer}
.drift-ext__panel-title{cursor:pointer;margin:0}
.drift-ext__panel-value{white-space:nowrap}
.drift-ext__help{cursor:help;opacity:.75;font-weight:400;font-size:12px}
.drift-ext__link{background:none;border:0;padding:0;color:#0dadea;cursor:pointer;font:inherit;text-decoration:underline}
.drift-ext__flyout-head{display:flex;flex-wrap:wrap;gap:4px 14px;align-items:baseline;padding-right:56px;margin-bottom:10px}
.drift-ext__ticks{position:relative;height:16px;font-size:11px;margin:2px 0 4px}
.drift-ext__ticks>span{position:absolute;transform:translateX(-50%);white-space:nowrap}
.drift-ext__ticks>span:first-child{transform:none}
.drift-ext__ticks>span:last-child{transform:translateX(-100%)}
@media (max-width:720px){
 .drift-ext__table thead{display:none}
 .drift-ext__table tr{display:block;border-bottom:1px solid rgba(128,128,128,.3);padding:4px 0}
 .drift-ext__table td{display:block;border:0;padding:2px 4px}
 .drift-ext__table td[data-label]::before{content:attr(data-label) ": ";font-weight:600;opacity:.7}
 .drift-ext__res-body{padding-left:4px}
}
`;

export function injectStyle(doc: Document = document): void {
  if (doc.getElementById("argocd-drift-style")) return;
  const el = doc.createElement("style");
  el.id = "argocd-drift-style";
  el.textContent = CSS;
  doc.head.appendChild(el);
}
