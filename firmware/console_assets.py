"""The console's style sheet and script, loaded only when a browser asks for them (it keeps
them for ten minutes): they need not sit in the heap between page loads."""

CSS = """body{font:15px/1.45 system-ui,sans-serif;margin:0;color:#1d232b;background:#f3f5f8}
header{background:#1f3a5f;color:#fff;padding:.5em 1em;display:flex;flex-wrap:wrap;gap:.4em 1.2em;
align-items:center}header b{margin-right:1em}header a{color:#dfe9f5;text-decoration:none}
header a.on{color:#fff;border-bottom:2px solid #fff}header form{margin:0 0 0 auto}
main{padding:1em;max-width:62em}h1{font-size:1.3em;margin:.2em 0 .6em}
table{border-collapse:collapse;width:100%;background:#fff;margin-bottom:1em}
td,th{border-bottom:1px solid #e1e5ea;padding:.4em .6em;text-align:left;vertical-align:top}
th{width:13em;font-weight:600}.msg{border:1px solid #d9c36a;background:#fff8d8;padding:.5em .8em;
margin:.4em 0}.ok{background:#e6f5e6;border-color:#8c8}.err{background:#fbe4e4;border-color:#d88}
input,textarea,select{font:inherit;padding:.25em;max-width:100%;box-sizing:border-box}
td input,td textarea{width:100%}td input[type=checkbox]{width:auto}
button{font:inherit;padding:.3em 1em;cursor:pointer}
pre{background:#fff;padding:.6em;overflow:auto;border:1px solid #dde}
fieldset{background:#fff;border:1px solid #cfd5dc;margin:0 0 1em}legend{font-weight:600}
small{color:#667}#live{font-size:.8em;color:#5a5}
"""

# The status page refreshes itself once a second; a settings form sends only the fields that
# were changed (the server skips unchanged values anyway, for a browser without scripts).
JS = """(function(){var $=function(i){return document.getElementById(i)};
if($('status')){var tick=function(){fetch('/api/status',{cache:'no-store'}).then(function(r){
if(r.status==401){location.href='/login';return null}return r.json()}).then(function(s){
if(!s)return;for(var k in s.show){var e=$(k);if(e)e.textContent=s.show[k]}
$('live').textContent='live '+new Date().toLocaleTimeString()}).catch(function(){
$('live').textContent='no answer from the modem'})};setInterval(tick,1000);tick()}
var fs=document.querySelectorAll('form.params');for(var i=0;i<fs.length;i++){
fs[i].addEventListener('submit',function(){var el=this.querySelectorAll('[data-v]');
for(var j=0;j<el.length;j++){if(el[j].value===el[j].getAttribute('data-v'))el[j].disabled=true}
})}})();
"""


def css(con, request):
    return CSS, 200, {"Content-Type": "text/css", "Cache-Control": "max-age=600"}


def js(con, request):
    return JS, 200, {"Content-Type": "text/javascript", "Cache-Control": "max-age=600"}
