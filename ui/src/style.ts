// The few rules Argo CD's own classes (white-box, argo-button, Font Awesome) do not cover. Colours
// are Argo CD's status palette (on icons and fills only: as text it is below 4.5:1 on white) or
// translucent greys, so they read on the light and the dark theme; text colour is inherited, and
// dimmed text keeps 4.5:1 on both. The two blues follow Argo CD's `theme-dark` class. Injected
// once per page.

/** Every class but the root one starts with this (written once: the rules are shipped as text). */
const P = ".drift-ext__";

const CSS = `
.drift-ext{font-size:13px;line-height:1.45;color:inherit;padding:0 0 16px}
.drift-ext *{box-sizing:border-box}
.drift-ext .white-box{margin-bottom:12px}
${P}box{border:1px solid rgba(128,128,128,.25);border-radius:4px;padding:12px 14px;margin-bottom:12px;background:rgba(128,128,128,.04)}
.drift-ext h4{margin:0 0 8px;font-size:14px;font-weight:600;display:flex;align-items:center;gap:6px;flex-wrap:wrap}
${P}muted{opacity:.82}
${P}row{display:flex;flex-wrap:wrap;gap:6px 18px;align-items:baseline}
${P}kv{display:inline-flex;gap:6px;align-items:baseline;min-width:0}
${P}kv>b{font-weight:600;text-transform:uppercase;font-size:11px;letter-spacing:.03em;opacity:.82}
${P}toolbar{display:flex;flex-wrap:wrap;gap:8px;align-items:center;justify-content:space-between;margin-bottom:10px}
${P}toolbar ${P}right{display:flex;gap:8px;align-items:center;flex-wrap:wrap;margin-left:auto}
${P}btn{cursor:pointer;border:1px solid rgba(128,128,128,.45);background:transparent;color:inherit;border-radius:3px;padding:3px 10px;font-size:12px}
${P}btn:hover{background:rgba(128,128,128,.12)}
${P}banner{display:flex;gap:10px;align-items:flex-start;border-radius:4px;padding:8px 12px;margin-bottom:12px;border:1px solid rgba(233,109,118,.6);background:rgba(233,109,118,.12)}
${P}banner--warn{border-color:rgba(244,192,48,.7);background:rgba(244,192,48,.14)}
${P}banner--info{border-color:rgba(13,173,234,.6);background:rgba(13,173,234,.1)}
${P}banner>i{margin-top:3px}
${P}grow{flex:1;min-width:0}
${P}badge{display:inline-block;border-radius:10px;padding:0 8px;font-size:11px;line-height:18px;white-space:nowrap;border:1px solid rgba(128,128,128,.4)}
${P}chip{display:inline-block;border-radius:3px;padding:0 6px;margin:1px 4px 1px 0;font-family:monospace;font-size:12px;background:rgba(128,128,128,.15);white-space:nowrap}
${P}res{border-top:1px solid rgba(128,128,128,.2)}
${P}res:first-child{border-top:0}
${P}res-head{display:flex;flex-wrap:wrap;gap:4px 14px;align-items:center;padding:8px 4px;cursor:pointer;background:none;border:0;color:inherit;width:100%;text-align:left;font:inherit}
${P}res-head:hover{background:rgba(128,128,128,.08)}
${P}res-title{font-weight:600;min-width:12em;flex:1 1 16em}
${P}res-name{font-weight:400}
${P}res-body{padding:4px 4px 12px 22px}
${P}scroll{overflow-x:auto;max-width:100%}
.drift-ext table${P}table{border-collapse:collapse;width:100%;font-size:12px}
${P}table th{text-align:left;font-weight:600;font-size:11px;text-transform:uppercase;opacity:.82;padding:4px 8px;border-bottom:1px solid rgba(128,128,128,.3);white-space:nowrap}
${P}table td{padding:5px 8px;border-bottom:1px solid rgba(128,128,128,.15);vertical-align:top}
${P}nb{white-space:nowrap}
${P}raw{overflow-wrap:anywhere}
${P}code{font-family:monospace;font-size:12px}
${P}diff{font-family:monospace;font-size:12px;white-space:pre;overflow:auto;max-height:420px;border:1px solid rgba(128,128,128,.25);border-radius:3px;padding:6px 0;margin:6px 0}
${P}diff>div{padding:0 8px;min-width:max-content}
${P}diff .add{background:rgba(24,190,148,.18)}
${P}diff .del{background:rgba(233,109,118,.2)}
${P}diff .hunk{color:#086a94}
.theme-dark ${P}diff .hunk,.theme-dark ${P}link,.theme-dark .drift-ext a{color:#3fc1f2}
${P}config{font-family:monospace;font-size:12px;white-space:pre;overflow:auto;background:rgba(128,128,128,.12);border-radius:3px;padding:8px 10px;margin:4px 0 8px}
${P}checks{margin:8px 0 0;padding-left:18px}
${P}checks li{margin-bottom:6px}
${P}timeline svg{display:block;width:100%;height:auto}
${P}legend{display:flex;flex-wrap:wrap;gap:4px 14px;font-size:12px;margin-top:4px}
${P}legend i{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:4px}
${P}panel{cursor:pointer}
${P}panel-title{cursor:pointer;margin:0}
${P}panel-value{white-space:nowrap}
${P}help{cursor:help;opacity:.75;font-weight:400;font-size:12px}
.drift-ext a{color:#086a94}
${P}link{background:none;border:0;padding:0;color:#086a94;cursor:pointer;font:inherit;text-decoration:underline}
${P}flyout-head{display:flex;flex-wrap:wrap;gap:4px 14px;align-items:baseline;padding-right:56px;margin-bottom:10px}
${P}ticks{position:relative;height:16px;font-size:11px;margin:2px 0 4px}
${P}ticks>span{position:absolute;transform:translateX(-50%);white-space:nowrap}
${P}ticks>span:first-child{transform:none}
${P}ticks>span:last-child{transform:translateX(-100%)}
@media (max-width:720px){
 ${P}table thead{display:none}
 ${P}table tr{display:block;border-bottom:1px solid rgba(128,128,128,.3);padding:4px 0}
 ${P}table td{display:block;border:0;padding:2px 4px}
 ${P}table td[data-label]::before{content:attr(data-label) ": ";font-weight:600;opacity:.82}
 ${P}res-body{padding-left:4px}
 ${P}ticks>span:nth-child(even):not(:last-child){display:none}
}
`;

export function injectStyle(doc: Document = document): void {
  if (doc.getElementById("argocd-drift-style")) return;
  const el = doc.createElement("style");
  el.id = "argocd-drift-style";
  el.textContent = CSS;
  doc.head.appendChild(el);
}
